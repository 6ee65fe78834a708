"""RESP commands through redis-py, RESP2 and RESP3.

Run by tests/python_clients.rs: python3 redis_py_client.py HOST PORT
"""
import sys
import time

import redis

host, port = sys.argv[1], int(sys.argv[2])


def check(protocol):
    r = redis.Redis(host=host, port=port, protocol=protocol, socket_timeout=5)
    p = "rp%d:" % protocol
    assert r.ping() is True
    assert r.echo("hi") == b"hi"
    assert r.set(p + "a", "1") is True
    assert r.get(p + "a") == b"1"
    assert r.get(p + "missing") is None
    assert r.set(p + "a", "2", nx=True) is None
    assert r.set(p + "new", "x", xx=True) is None
    assert r.set(p + "a", "3", get=True) == b"1"
    assert r.mset({p + "b": "b", p + "c": "c"}) is True
    assert r.mget([p + "a", p + "b", p + "missing"]) == [b"3", b"b", None]
    assert r.exists(p + "a", p + "b", p + "missing") == 2
    assert r.incr(p + "n") == 1
    assert r.incrby(p + "n", 10) == 11
    assert r.decr(p + "n") == 10
    assert r.decrby(p + "n", 20) == -10
    try:
        r.incr(p + "b")
        raise AssertionError("incr of a non-integer must fail")
    except redis.ResponseError as error:
        assert "not an integer" in str(error)
    assert r.append(p + "b", "cd") == 3
    assert r.strlen(p + "b") == 3
    assert r.getdel(p + "b") == b"bcd"
    assert r.get(p + "b") is None
    assert r.ttl(p + "a") == -1
    assert r.ttl(p + "missing") == -2
    assert r.expire(p + "a", 100) is True
    assert 98 <= r.ttl(p + "a") <= 100
    # Expiry is kept in whole seconds, rounded up: PTTL may show up to 1 s more.
    assert 98000 < r.pttl(p + "a") <= 101000
    assert r.expire(p + "a", 50, gt=True) is False
    assert r.persist(p + "a") is True
    assert r.ttl(p + "a") == -1
    assert r.getex(p + "a", ex=60) == b"3"
    assert r.ttl(p + "a") > 0
    assert r.set(p + "x", "v", px=100000) is True
    assert r.type(p + "x") in (b"string", "string")
    assert r.type(p + "missing") in (b"none", "none")
    assert r.delete(p + "x", p + "missing") == 1
    assert r.pexpire(p + "a", -1) is True
    assert r.get(p + "a") is None
    assert r.client_setname("tester") is True
    assert r.client_getname() in (b"tester", "tester")
    assert isinstance(r.client_id(), int)
    assert r.dbsize() >= 1
    info = r.info()
    assert "redis_version" in info
    try:
        r.execute_command("NOSUCHCOMMAND", "x")
        raise AssertionError("unknown command must fail")
    except redis.ResponseError as error:
        assert "unknown command" in str(error)
    try:
        r.execute_command("GET")
        raise AssertionError("wrong arity must fail")
    except redis.ResponseError as error:
        assert "wrong number of arguments" in str(error)
    r.close()


check(2)
check(3)
r = redis.Redis(host=host, port=port, socket_timeout=5)
assert r.flushall() is True
assert r.dbsize() == 0
print("redis-py: ok")
