"""Secrets never show: a statement carrying a password literal is masked in
stats_mysql_processlist while it runs (as text and as a prepared statement), and its
digest in stats_mysql_query_digest holds no literal either."""

import subprocess

import pytest

import harness
from harness import admin, connect, q, q_in_background

pytestmark = pytest.mark.proxy_only


def running_info(adm, marker, seconds=5):
    """The info column of the session whose statement contains marker, once it shows."""
    found = harness.wait_until(lambda: q(adm, "SELECT info FROM stats_mysql_processlist "
                                              "WHERE info LIKE '%%%s%%'" % marker),
                               seconds, "a statement with %s in the processlist" % marker)
    return found[0][0]


@pytest.fixture(scope="module")
def capi_client(tmp_path_factory):
    return harness.capi_client_path(str(tmp_path_factory.mktemp("capi")))


def test_processlist_and_digest_mask_password_literals(sluice):
    target = sluice()
    adm = admin(target)
    conn = connect(target)
    t, done = q_in_background(conn, "SELECT SLEEP(2) AS zzz_text, PASSWORD('topsecret')")
    t.start()
    try:
        info = running_info(adm, "zzz_text")
        assert info == "SELECT SLEEP(2) AS zzz_text, PASSWORD('***')", info
        assert done.wait(10)
        digests = [r[0] for r in q(adm, "SELECT digest_text FROM "
                                                 "stats_mysql_query_digest")]
        assert any("zzz_text" in d for d in digests), digests
        assert not any("topsecret" in d for d in digests), digests
    finally:
        t.join(10)
        conn.close()
        adm.close()


def test_processlist_masks_a_running_prepared_statement(sluice, capi_client):
    target = sluice()
    adm = admin(target)
    f = target.fleet
    cmd = [capi_client, target.host, str(target.port), f.app_user, f.app_password, "app",
           f.app2_user, f.app2_password, "session",
           "prep:s=SELECT SLEEP(2) AS zzz_prep, AES_ENCRYPT('data', 'topsecret')", "exec:s"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True)
    try:
        info = running_info(adm, "zzz_prep")
        assert info == "SELECT SLEEP(2) AS zzz_prep, AES_ENCRYPT('***', '***')", info
        out, _ = proc.communicate(timeout=60)
        assert "ok session" in out, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        adm.close()
