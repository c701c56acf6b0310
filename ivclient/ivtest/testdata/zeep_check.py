"""A real SOAP client against the fake platform's IVWS endpoint.

Usage: zeep_check.py WSDL_URL KEY

Loads the WSDL with zeep (Debian's python3-zeep), then calls AgentLogin,
QueueList and AgentInfo as a partner's Python code would, and checks the
answers. The platform must have agent 1001 (password 1234, name "Zeep
Agent") and queues 7015 and 7016 in accountcode "default". Prints
"zeep check passed" and exits 0 on success.
"""
import sys

import zeep
import zeep.exceptions


def main():
    wsdl, key = sys.argv[1], sys.argv[2]
    client = zeep.Client(wsdl)
    svc = client.service

    ops = sorted(client.wsdl.services["Ivws"].ports["Ivws"].binding._operations)
    assert len(ops) == 41, ops

    r = svc.AgentLogin(key=key, Accountcode="default", User="default_1001",
                       Interface="SIP/default_0001")
    print("AgentLogin ->", repr(r))
    assert r == 0, r

    r = svc.QueueList(key=key, accountcode="default")
    print("QueueList ->", repr(r))
    assert list(r.integer) == ["7015", "7016"], r

    r = svc.AgentInfo(key=key, accountcode="default", user="1001")
    print("AgentInfo ->", repr(r))
    assert r.passwd == "1234", r
    assert r.name == "Zeep Agent", r
    assert r.accountcode == "default", r
    assert r.agentstatus not in (None, "LOGOFF"), r

    # A non-zero return code is a SOAP fault naming it.
    try:
        svc.AgentInfo(key=key, accountcode="default", user="4242")
    except zeep.exceptions.Fault as f:
        print("AgentInfo(4242) -> Fault", f.code, repr(f.message))
        assert f.message.startswith("RESPONSE_NOT_FOUND"), f.message
    else:
        raise AssertionError("no fault for a missing agent")

    print("zeep check passed")


if __name__ == "__main__":
    main()
