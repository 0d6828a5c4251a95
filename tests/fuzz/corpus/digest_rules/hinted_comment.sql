ÅD/* app:42 */ SELECT /*+ BKA(t) */ * FROM t -- tail
