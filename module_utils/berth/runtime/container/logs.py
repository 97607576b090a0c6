"""Container logs as JSON lines, the format of Docker's json-file driver.

Each line: {"log": "<text ending in \\n>", "stream": "stdout"|"stderr", "time": RFC3339Nano}.
A line longer than 16 KiB is split as Docker splits it (the parts lack the \\n).
"""
import datetime
import json
import os
import time

MAX_LINE = 16 * 1024


def rfc3339_nano(timestamp=None):
    timestamp = time.time() if timestamp is None else timestamp
    seconds = int(timestamp)
    nanos = int(round((timestamp - seconds) * 1e9))
    if nanos >= 1000000000:
        seconds, nanos = seconds + 1, nanos - 1000000000
    base = datetime.datetime.utcfromtimestamp(seconds).strftime("%Y-%m-%dT%H:%M:%S")
    return "%s.%09dZ" % (base, nanos)


def parse_time(text):
    """RFC3339(Nano) 'Z' time -> epoch float."""
    main, _, frac = text.rstrip("Z").partition(".")
    seconds = datetime.datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    return seconds + (float("0." + frac) if frac else 0.0)


class LogWriter(object):
    """Turns a byte stream per stream name into JSON lines, buffering partial lines."""

    def __init__(self, path):
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self.partial = {"stdout": b"", "stderr": b""}

    def feed(self, stream, data):
        buffer = self.partial[stream] + data
        out = []
        while True:
            cut = buffer.find(b"\n")
            if cut < 0 or cut >= MAX_LINE:
                if len(buffer) >= MAX_LINE:
                    out.append(self._line(stream, buffer[:MAX_LINE]))
                    buffer = buffer[MAX_LINE:]
                    continue
                break
            out.append(self._line(stream, buffer[:cut + 1]))
            buffer = buffer[cut + 1:]
        self.partial[stream] = buffer
        if out:
            os.write(self.fd, b"".join(out))

    def flush(self):
        out = [self._line(s, b) for s, b in sorted(self.partial.items()) if b]
        self.partial = {"stdout": b"", "stderr": b""}
        if out:
            os.write(self.fd, b"".join(out))

    def close(self):
        self.flush()
        os.close(self.fd)

    @staticmethod
    def _line(stream, raw):
        return (json.dumps({"log": raw.decode("utf-8", "replace"), "stream": stream,
                            "time": rfc3339_nano()}) + "\n").encode("utf-8")


def read_from(path, offset=0):
    """([(time, stream, text)], new offset) for the complete lines after ``offset``."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except OSError:
        return [], offset
    end = data.rfind(b"\n") + 1
    entries = []
    for raw in data[:end].splitlines():
        try:
            entry = json.loads(raw.decode("utf-8"))
        except ValueError:
            continue
        entries.append((entry["time"], entry["stream"], entry["log"]))
    return entries, offset + end


def read_entries(path, since=None):
    """(time_text, stream, text) of a log file; ``since`` is an epoch float."""
    entries, _ = read_from(path)
    if since is None:
        return entries
    return [e for e in entries if parse_time(e[0]) >= since]


def tail(entries, count):
    if count is None or count < 0:
        return list(entries)
    items = list(entries)
    return items[-count:] if count else []
