#!/usr/bin/env python3
"""A partner's integration test, in Python, against the simulator: no Go.

It is what a PHP or Python shop writes to test its own InstantVoice code.
The code under test here is a small CRM connector (CrmConnector): it
listens to every agent's call events over STOMP, pops the customer's record
on NEWCALL and writes a call record on HANGUP, and it sends requests over
STOMP (AgentPause) and SOAP (AgentLogin, with zeep). The test resets the
simulator, plays calls through its control interface, and checks the
connector's reaction.

Run the simulator with a control port, then this script with what it
printed:

    go run ./examples/simulator -control 127.0.0.1:7790
    IV_SIM_CONTROL=http://127.0.0.1:7790/ IV_STOMP_ADDR=127.0.0.1:61613 \\
    IV_SOAP_URL=http://127.0.0.1:7789/ IV_KEY=<the key it printed> \\
    python3 examples/simulator/partner_test.py

It needs Debian's python3-stomp (stomp.py) and python3-zeep; the rest is
the standard library. It prints "partner test passed" and exits 0 when
every check holds, and exits 1 naming the first one that fails.
"""
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import stomp
import zeep

WAIT = 10  # seconds to wait for the connector to react


# ---- The partner's code under test ----------------------------------------

class CrmConnector(stomp.ConnectionListener):
    """Screen pops on NEWCALL, call records on HANGUP, requests over STOMP."""

    def __init__(self, conn, key):
        self.conn, self.key = conn, key
        self.lock = threading.Condition()
        self.popups = {}   # uniqueid -> (agent, callerid, direction)
        self.records = {}  # uniqueid -> (agent, reason)
        self.seen = []     # (agent, type) in arrival order
        self.replies = {}  # identifier -> [code, payload, identifier]
        self.receipts = set()
        self.malformed = 0  # messages that were not JSON

    def on_message(self, frame):
        try:
            body = json.loads(frame.body)
        except ValueError:
            with self.lock:
                self.malformed += 1
            return
        with self.lock:
            if isinstance(body, list):  # a reply on /topic/KEY
                if len(body) >= 3:
                    self.replies[body[-1]] = body
            else:  # an event on /topic/iv.agents.<accountcode>_<number>
                self.seen.append((body.get("agent"), body.get("type")))
                if body.get("type") == "NEWCALL":
                    self.popups[body["uniqueid"]] = (body["agent"], body["callerid"], body["direction"])
                elif body.get("type") == "HANGUP":
                    self.records[body["uniqueid"]] = (body["agent"], body.get("reason"))
            self.lock.notify_all()

    def on_receipt(self, frame):
        with self.lock:
            self.receipts.add(frame.headers.get("receipt-id"))
            self.lock.notify_all()

    def request(self, method, args, timeout=WAIT):
        """Sends a request on /queue/config and returns its reply, or None."""
        ident = str(uuid.uuid4())
        self.conn.send(destination="/queue/config", body=json.dumps([method, self.key, args, ident]))
        return self.wait(lambda: self.replies.get(ident), timeout)

    def wait(self, cond, timeout=WAIT):
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                v = cond()
                left = deadline - time.monotonic()
                if v or left <= 0:
                    return v
                self.lock.wait(left)


# ---- The test ---------------------------------------------------------------

def control(path, body=None):
    """Calls the simulator's control interface; returns (status, JSON)."""
    url = os.environ["IV_SIM_CONTROL"].rstrip("/") + path
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=WAIT) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def check(what, ok, got=None):
    if not ok:
        print("FAIL:", what, "" if got is None else repr(got))
        sys.exit(1)
    print("ok:", what)


def main():
    key = os.environ["IV_KEY"]
    host, port = os.environ["IV_STOMP_ADDR"].rsplit(":", 1)

    status, _ = control("/reset", {})
    check("the simulator resets to its seed", status == 200, status)

    conn = stomp.Connection([(host, int(port))], heartbeats=(0, 0))
    crm = CrmConnector(conn, key)
    conn.set_listener("crm", crm)
    conn.connect("instantvoice", "sT0MpM3", wait=True)
    try:
        conn.subscribe(destination="/topic/iv.agents.#", id="events", ack="auto")
        conn.subscribe(destination="/topic/" + key, id="replies", ack="auto", headers={"receipt": "subscribed"})
        check("the broker confirms the subscriptions", crm.wait(lambda: "subscribed" in crm.receipts))
        run(crm)
    finally:
        conn.disconnect()
    print("partner test passed")


def run(crm):
    key = os.environ["IV_KEY"]
    svc = zeep.Client(os.environ["IV_SOAP_URL"] + "?wsdl").service

    # The connector logs agent 1001 in over SOAP; the code is the result.
    r = svc.AgentLogin(key=key, Accountcode="default", User="default_1001", Interface="SIP/default_1001")
    check("AgentLogin over SOAP returns 0", r == 0, r)
    r = svc.AgentLogin(key=key, Accountcode="default", User="default_1001", Interface="SIP/default_1001")
    check("a second AgentLogin returns RESPONSE_DUPLICATE (4)", r == 4, r)
    check("LOGIN reaches the connector", crm.wait(lambda: ("default_1001", "LOGIN") in crm.seen), crm.seen)
    check("SOAP lists are plain lists of integers",
          svc.QueueList(key=key, accountcode="default") == [7000, 7001])

    # An inbound call: the connector pops the customer's record...
    status, call = control("/calls/inbound", {"agent": "1001", "queue": "7000", "callerid": "2198765456"})
    check("the simulator plays an inbound call", status == 200 and call.get("uniqueid"), call)
    uid = call["uniqueid"]
    pop = crm.wait(lambda: crm.popups.get(uid))
    check("NEWCALL pops the caller's record", pop == ("default_1001", "2198765456", "INBOUND"), pop)

    # ... and writes the call record when the caller hangs up.
    status, _ = control("/calls/hangup", {"uniqueid": uid, "reason": "BYCALLER"})
    check("the simulator hangs the call up", status == 200, status)
    rec = crm.wait(lambda: crm.records.get(uid))
    check("HANGUP writes the call record with its reason", rec == ("default_1001", "BYCALLER"), rec)

    # An agent-to-agent call the callee transfers blind to a queue.
    control("/reset", {})
    for user in ("1001", "1002", "1003"):
        reply = crm.request("AgentLogin", {"Accountcode": "default", "User": user, "Interface": "SIP/default_" + user})
        check("AgentLogin %s over STOMP returns 0" % user, reply and reply[0] == 0, reply)
    status, call = control("/calls/agent", {"from": "1001", "to": "1002"})
    check("the simulator plays an agent-to-agent call", status == 200, call)
    status, moved = control("/calls/transfer", {"agent": "1002", "exten": "7001"})
    check("the simulator transfers the call to queue 7001", status == 200 and len(moved["uniqueids"]) == 1, moved)
    new = moved["uniqueids"][0]
    pop = crm.wait(lambda: crm.popups.get(new))
    check("the transferred call pops at agent 1003", pop == ("default_1003", "1001", "INBOUND"), pop)
    rec = crm.wait(lambda: crm.records.get(call["to_uniqueid"]))
    check("the transferring leg ends with BTRANSFER", rec == ("default_1002", "BTRANSFER"), rec)

    # The platform refuses what the reference forbids, and the control
    # interface says so.
    status, err = control("/calls/inbound", {"agent": "4242", "callerid": "1"})
    check("a call to a missing agent is RESPONSE_NOT_FOUND", status == 422 and err["code"] == 3, err)
    reply = crm.request("QueueDelete", {"accountcode": "default", "name": "7000"})
    check("QueueDelete of a queue with members is RESPONSE_NOTEMPTY (6)", reply and reply[0] == 6, reply)

    # Withheld replies: the connector's request times out, yet it was acted on.
    control("/replies/drop", {"count": 1, "methods": ["AgentPause"]})
    reply = crm.request("AgentPause", {"Accountcode": "default", "User": "1001", "Reason": "1"}, timeout=1)
    check("a withheld reply never comes", reply is None, reply)
    check("the withheld request was acted on (PAUSE)", crm.wait(lambda: ("default_1001", "PAUSE") in crm.seen))

    # A raw event: the connector must survive one it cannot read.
    control("/events", {"agent": "default_1001", "body": "{not json"})
    control("/events", {"agent": "default_1001", "body": json.dumps(
        {"direction": "", "callerid": "", "type": "UNPAUSE", "uniqueid": "", "agent": "default_1001"})})
    check("the connector reads the event after a malformed one",
          crm.wait(lambda: ("default_1001", "UNPAUSE") in crm.seen), crm.seen)
    check("the connector counted the malformed event", crm.malformed == 1, crm.malformed)

    # What the platform received, as the connector sent it.
    status, reqs = control("/requests?method=AgentLogin")
    check("the simulator lists the requests since the reset",
          status == 200 and [(r["transport"], r["code"]) for r in reqs] == [("stomp", 0)] * 3, reqs)


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except BaseException as e:  # an exception is a failed test, with its cause
        print("FAIL:", type(e).__name__, e)
        sys.exit(1)
