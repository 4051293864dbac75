"""``ccount review serve``: a real uvicorn server in a subprocess, spoken to over real HTTP."""

from __future__ import annotations

import http.client
import json
import signal
from urllib.parse import urlsplit

import pytest

from detector.review.round import Round


@pytest.fixture
def server(page_server):
    rnd, url, _ = page_server
    return rnd, url


@pytest.fixture
def served(read_only_server):
    """A server shared by the tests that leave its round unchanged (they check that)."""
    rnd, url, _ = read_only_server
    yield rnd, url
    assert rnd.journal() == []


def request(url, method, path, *, token=None, host=None, body=None, cookie=None):
    """(status, headers, body bytes) of one raw HTTP request; ``path`` is sent verbatim."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
    headers = {"Host": parts.netloc if host is None else host}
    if token:
        headers["X-CCount-Token"] = token
    if cookie:
        headers["Cookie"] = cookie
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for k, v in headers.items():
        conn.putheader(k, v)
    if data is not None:
        conn.putheader("Content-Length", str(len(data)))
    conn.endheaders(data)
    resp = conn.getresponse()
    out = resp.status, dict(resp.getheaders()), resp.read()
    conn.close()
    return out


def token_of(url: str) -> str:
    return url.split("token=", 1)[1]


def test_url_token_and_state(served):
    rnd, url = served
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1" and parts.port > 0 and len(token_of(url)) >= 32
    assert request(url, "GET", "/api/state")[0] == 401
    assert request(url, "GET", "/")[0] == 401
    assert request(url, "GET", "/chip/0.png")[0] == 401
    assert request(url, "GET", "/api/state", token="x" * 32)[0] == 401
    status, _, body = request(url, "GET", "/api/state", token=token_of(url))
    assert status == 200
    state = json.loads(body)
    assert [u["unit_id"] for u in state["units"]] == [0, 1, 2]  # most doubtful first
    assert state["progress"]["reviewed"] == 0 and state["progress"]["budget"] == 6
    assert state["resume"] == 0
    # the printed URL opens the page and sets the cookie that later GETs may use
    status, headers, body = request(url, "GET", f"/?token={token_of(url)}")
    assert status == 200 and b"ccount-token" in body
    cookie = headers["set-cookie"].split(";")[0]
    assert cookie == f"ccount_token_{parts.port}={token_of(url)}"  # one per port
    assert "SameSite=strict" in headers["set-cookie"] and "HttpOnly" in headers["set-cookie"]
    assert request(url, "GET", "/chip/0.png", cookie=cookie)[0] == 200
    other = f'theme=dark; ccount_token_{parts.port + 1}=abc; {cookie}; x="q'
    assert request(url, "GET", "/api/state", cookie=other)[0] == 200
    assert (
        request(url, "GET", "/api/state", cookie=f"ccount_token_{parts.port}={'A' * 32}")[0] == 401
    )
    # the cookie alone is not enough to change the round (no cross-site POST)
    act = {"action": "accept", "cand": 0}
    assert request(url, "POST", "/api/action", cookie=cookie, body=act)[0] == 401
    assert rnd.journal() == []


def test_wrong_host_is_rejected(served):
    _, url = served
    tok = token_of(url)
    port = urlsplit(url).port
    for host in (f"evil.example:{port}", "127.0.0.1", f"127.0.0.1:{port + 1}", ""):
        status, _, body = request(url, "GET", "/api/state", token=tok, host=host)
        assert status == 400, host
        assert b"units" not in body
    assert request(url, "GET", "/api/state", token=tok, host=f"localhost:{port}")[0] == 200


def test_unknown_and_path_like_ids_read_no_files(served):
    rnd, url = served
    tok = token_of(url)
    status, _, body = request(url, "GET", "/api/unit/7", token=tok)
    assert status == 404 and json.loads(body) == {"error": "no unit 7"}
    assert request(url, "GET", "/chip/7.png", token=tok)[0] == 404
    manifest = (rnd.path / "manifest.json").read_bytes()
    for path in (
        "/chip/..%2Fmanifest.json",
        "/chip/../manifest.json",
        "/chip/%2E%2E%2F%2E%2E%2Fround%2Fmanifest.json",
        "/chip/0.png/../../manifest.json",
        "/api/unit/..%2F..%2Fetc%2Fpasswd",
        "/api/unit/0%2F..%2Fmanifest.json",
        "/static/..%2Fround.py",
        "/static/../server.py",
        "/static/index.html",
        "/journal.jsonl",
        "/manifest.json",
    ):
        status, _, body = request(url, "GET", path, token=tok)
        assert status == 404, path
        assert manifest not in body and b"import" not in body and b"root:" not in body
    status, headers, body = request(url, "GET", "/chip/0.png", token=tok)
    assert status == 200 and headers["content-type"] == "image/png"
    assert body == rnd.chip_png(0).read_bytes()


def test_actions_are_written_before_the_response(server):
    rnd, url = server
    tok = token_of(url)
    act = {"action": "reject", "cand": 1, "seconds": 2.5, "by": "import:cvat"}
    status, _, body = request(url, "POST", "/api/action", token=tok, body=act)
    assert status == 200
    reply = json.loads(body)
    assert reply["unit_id"] == 0 and reply["cand_id"] == 1
    assert reply["state"]["progress"]["reviewed"] == 1
    assert reply["state"]["progress"]["changed_share"] == 1.0  # a rejected detection
    # on disk already: a fresh open sees it, and the journal says who and how long
    assert Round.open(rnd.path).candidates[1].status == "rejected"
    [entry] = rnd.journal()
    assert (entry["action"], entry["cand"], entry["by"], entry["seconds"]) == (
        "reject", 1, "browser", 2.5
    )  # fmt: skip
    # a bad action: 400 with the round's message, nothing journalled
    for bad in ({"action": "kind", "cand": 0, "kind": "45ft"}, {"action": "accept", "cand": 99},
                {"action": "explode"}):  # fmt: skip
        status, _, body = request(url, "POST", "/api/action", token=tok, body=bad)
        assert status == 400 and json.loads(body)["error"], bad
    assert len(rnd.journal()) == 1
    # undo through the same route
    status, _, body = request(url, "POST", "/api/action", token=tok, body={"action": "undo"})
    assert status == 200 and json.loads(body)["cand_id"] == 1
    assert Round.open(rnd.path).candidates[1].status == "pending"
    assert [e["action"] for e in rnd.journal()] == ["reject", "undo"]
    # another process changes the round (an import): the server shows it at once
    Round.open(rnd.path).apply({"action": "complete", "unit": 2, "by": "import:cvat"})
    state = json.loads(request(url, "GET", "/api/state", token=tok)[2])
    assert [u["status"] for u in state["units"]] == ["pending", "pending", "complete"]
    assert state["units"][2]["window"] == list(rnd.chips[2].window)
    status, _, body = request(url, "POST", "/api/action", token=tok, body={"action": "undo"})
    assert status == 200 and json.loads(body)["unit_id"] == 2
    assert Round.open(rnd.path).units[2].status == "pending"


def test_ctrl_c_exits_130_without_traceback(page_server):
    _, url, proc = page_server
    assert request(url, "GET", "/api/state", token=token_of(url))[0] == 200
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert "Traceback" not in err
    assert err.strip() == "ccount review: interrupted"


def test_ctrl_c_exits_130_when_started_with_sigint_ignored(page_round):
    """A server started with SIGINT ignored (a shell's background job, or a parent that
    ignores it) still stops on Ctrl-C with 130: uvicorn catches the signal, shuts down and
    re-raises it, which the ignored disposition swallowed (before: exit 0, seen in the full
    test suite)."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "detector", "review", "serve", str(page_round.path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )  # fmt: skip
    url = ""
    while not url.startswith("http://"):
        url = proc.stdout.readline()
        assert url or proc.poll() is None, proc.stderr.read()
    assert request(url.strip(), "GET", "/api/state", token=token_of(url.strip()))[0] == 200
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130 and err.strip() == "ccount review: interrupted"


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """``ccount review serve ARGS`` in process (these calls never get to serving)."""
    from detector.cli.main import main

    rc = main(["review", "serve", *args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_non_loopback_host_needs_the_flag(page_round, capsys):
    rc, out, err = run_cli(capsys, str(page_round.path), "--host", "192.0.2.10")
    assert rc == 2 and out == ""
    assert "192.0.2.10" in err and "--allow-remote" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    # a wildcard address cannot satisfy the Host check: refused even with the flag
    rc, _, err = run_cli(capsys, str(page_round.path), "--host", "0.0.0.0", "--allow-remote")
    assert rc == 2 and "wildcard" in err
    # with the flag: a warning, then the address is tried (this one is not on this machine)
    rc, out, err = run_cli(capsys, str(page_round.path), "--host", "192.0.2.10", "--allow-remote")
    assert err.startswith("warning: serving on 192.0.2.10") and out == ""
    assert rc == 2 and "cannot listen" in err.splitlines()[1] and "Traceback" not in err


def test_missing_round_is_a_one_line_error(tmp_path, capsys):
    rc, _, err = run_cli(capsys, str(tmp_path / "nope"))
    assert rc == 2
    assert err.strip().splitlines() == [
        f"ccount review: error: {tmp_path / 'nope'}: not a review round (no manifest.json)"
    ]
