"""A real SOAP client against the fake platform's IVWS endpoint.

Usage: zeep_check.py WSDL_URL KEY

Loads the WSDL with zeep (Debian's python3-zeep) and calls the endpoint as
a partner's Python code would, checking what the reference shows:

- integers where the reference's samples type them xs:integer;
- lists handed over as plain Python lists (no wrapper object);
- return codes inside results: 0 on success, the non-zero code of an
  action method as its result, {code, location} for *InfoPermission;
- a fault whose faultcode names the code for an Info lookup of something
  missing.

The platform must have, in accountcode "default": agent 1001 (password
1234, name "Zeep Agent") with line 1 and a membership of queue 7015 with
priority 2, queues 7015 and 7016, and permission group 123. Prints
"zeep check passed" and exits 0 on success.
"""
import sys

import zeep
import zeep.exceptions


def check(what, got, want):
    print(what, "->", repr(got))
    assert got == want, "%s: got %r, want %r" % (what, got, want)


def main():
    wsdl, key = sys.argv[1], sys.argv[2]
    client = zeep.Client(wsdl)
    svc = client.service

    ops = sorted(client.wsdl.services["Ivws"].ports["Ivws"].binding._operations)
    assert len(ops) == 41, ops

    # Codes in results.
    check("AgentLogin", svc.AgentLogin(key=key, Accountcode="default", User="default_1001",
                                       Interface="SIP/default_0001"), 0)
    check("AgentLogin again (RESPONSE_DUPLICATE)",
          svc.AgentLogin(key=key, Accountcode="default", User="default_1001",
                         Interface="SIP/default_0001"), 4)
    check("AgentAdd in an unknown accountcode (RESPONSE_NOT_FOUND)",
          svc.AgentAdd(key=key, accountcode="nosuch", user="1002"), 3)
    check("QueueAdd of an existing queue (RESPONSE_DUPLICATE)",
          svc.QueueAdd(key=key, accountcode="default", name="7015"), 4)
    check("AgentPause without Reason (RESPONSE_MISSING_ARGS)",
          svc.AgentPause(key=key, Accountcode="default", User="1001"), 1)
    check("AgentDelete with an unknown key (PERMISSION_DENIED)",
          svc.AgentDelete(key="nosuchkey", accountcode="default", user="1001"), -2)

    r = svc.AgentInfoPermission(key=key, accountcode="default", user="1001")
    check("AgentInfoPermission with no group", (r.code, r.location), (3, None))
    check("AgentAddPermission", svc.AgentAddPermission(key=key, accountcode="default", user="1001",
                                                       location="123"), 0)
    r = svc.AgentInfoPermission(key=key, accountcode="default", user="1001")
    check("AgentInfoPermission", (r.code, r.location), (0, "123"))
    assert isinstance(r.code, int), r

    # Plain lists of integers.
    check("QueueList", svc.QueueList(key=key, accountcode="default"), [7015, 7016])
    check("AgentList", svc.AgentList(key=key, accountcode="default"), [1001])

    # Typed objects.
    r = svc.AgentInfo(key=key, accountcode="default", user="1001")
    print("AgentInfo ->", repr(r))
    assert r.passwd == "1234", r
    assert r.name == "Zeep Agent", r
    assert r.accountcode == "default", r
    assert r.user == "1001", r
    assert isinstance(r.agents_id, int) and r.agents_id > 0, r
    assert isinstance(r.logints, int) and r.logints > 0, r
    assert r.agentstatus not in (None, "LOGOFF"), r

    r = svc.QueueInfo(key=key, accountcode="default", name="7015")
    print("QueueInfo ->", repr(r))
    assert r.name == "7015", r
    for f, want in (("sl_answeredbefore_1", 30), ("sl_answeredbefore_2", 60), ("dialtimeout", 10),
                    ("timeout", 0), ("maxlen", 0), ("agents_total", 1), ("agents_loggedin", 1)):
        got = getattr(r, f)
        assert isinstance(got, int) and got == want, (f, got, want)

    lines = svc.AgentLineList(key=key, accountcode="default", user="1001")
    print("AgentLineList ->", repr(lines))
    assert isinstance(lines, list) and len(lines) == 1, lines
    ln = lines[0]
    assert (ln.accountcode, ln.linenumber, ln.inbound, ln.outbound, ln.linestatus, ln.linestatusts) == \
        ("default", 1, 1, 1, "IDLE", None), ln

    aq = svc.AgentQueueList(key=key, accountcode="default", user="1001")
    print("AgentQueueList ->", repr(aq))
    assert isinstance(aq, list) and [(q.name, q.priority) for q in aq] == [("7015", 2)], aq

    members = svc.AgentQueueMembers(key=key, accountcode="default", name="7015")
    print("AgentQueueMembers ->", repr(members))
    assert isinstance(members, list) and [(m.user, m.priority) for m in members] == [("1001", 2)], members

    # A missing target of an Info method is a fault naming the code.
    try:
        svc.AgentInfo(key=key, accountcode="default", user="4242")
    except zeep.exceptions.Fault as f:
        print("AgentInfo(4242) -> Fault", f.code, repr(f.message))
        assert f.code.endswith("Client.RESPONSE_NOT_FOUND"), f.code
        assert f.message.startswith("RESPONSE_NOT_FOUND"), f.message
    else:
        raise AssertionError("no fault for a missing agent")

    print("zeep check passed")


if __name__ == "__main__":
    main()
