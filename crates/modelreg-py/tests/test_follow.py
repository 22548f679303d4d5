"""follow(): the model switches when the alias moves, never to a version
that cannot be loaded."""

import logging
import threading
import time

import modelreg


def wait_until(predicate, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_follower_switches_when_the_alias_moves(reg):
    reg.save_model("1.0.0", "one")
    reg.save_model("1.1.0", "two")
    reg.promote("1.0.0", "production")
    with reg.follow("production", poll_seconds=0.05) as production:
        assert production.model == "one" and production.version == "1.0.0"
        reg.promote("1.1.0", "production")
        assert wait_until(lambda: production.version == "1.1.0")
        served = production.current
        assert served.model == "two" and served.metadata["version"] == "1.1.0"
        assert production.switches == 1 and production.last_error is None


def _explode():
    raise RuntimeError("this model cannot be loaded")


class Unloadable:
    """Sealed with valid digests, but raises when unpickled (a model that
    needs a library the server lacks, say)."""

    def __reduce__(self):
        return (_explode, ())


def test_a_broken_version_is_not_switched_to(reg, caplog):
    reg.save_model("1.0.0", "good", serializer="pickle")
    reg.save_model("1.1.0", Unloadable(), serializer="pickle")
    reg.promote("1.0.0", "production")
    production = reg.follow("production", poll_seconds=60)
    try:
        reg.promote("1.1.0", "production")
        with caplog.at_level(logging.WARNING, logger="modelreg"):
            assert production.refresh() is False
            assert production.refresh() is False
        assert production.model == "good" and production.version == "1.0.0"
        # The serializer's failure, as every decoding failure, is an
        # IntegrityError naming the version; the model's own error is its cause.
        assert isinstance(production.last_error, modelreg.IntegrityError)
        assert isinstance(production.last_error.__cause__, RuntimeError)
        assert production.failures == 1
        assert "stays on version 1.0.0" in caplog.text
        reg.save_model("1.2.0", "fixed", serializer="pickle")
        reg.promote("1.2.0", "production")
        assert production.refresh() is True and production.model == "fixed"
    finally:
        production.close()


def test_readers_never_see_a_model_with_another_versions_metadata(reg):
    for i in range(4):
        reg.save_model(f"1.{i}.0", f"model-{i}")
    reg.promote("1.0.0", "production")
    production = reg.follow("production", poll_seconds=0.01)
    mismatches = []
    stop = threading.Event()

    def read():
        while not stop.is_set():
            served = production.current
            if served.model != f"model-{served.metadata['version'].split('.')[1]}":
                mismatches.append(served)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    for round_ in range(20):
        reg.promote(f"1.{round_ % 4}.0", "production")
        time.sleep(0.02)
    stop.set()
    for t in readers:
        t.join()
    production.close()
    assert mismatches == []
    assert production.switches >= 3
