// Every APITests file sees TestSupport (etcdctl runner, loopback server, ports).
@_exported import TestSupport
