"""Import every module of the bundled package with the interpreter running this script.

Run with a Python 3.6 (CentOS 7's python3) where one exists: it proves more than vermin's static
reading, because every import-time statement of every module really runs there.
"""
import importlib
import os
import sys


def main(root):
    sys.path.insert(0, root)
    failures = 0
    count = 0
    for directory, _dirs, files in os.walk(os.path.join(root, "berth")):
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            relative = os.path.relpath(os.path.join(directory, name), root)[:-3]
            module = relative.replace(os.sep, ".").replace(".__init__", "")
            try:
                importlib.import_module(module)
                count += 1
            except Exception as exc:  # noqa: BLE001 - report every failure, not only the first
                failures += 1
                print("%s: %s: %s" % (module, type(exc).__name__, exc))
    print("imported %d modules with Python %s, %d failed" % (count, sys.version.split()[0], failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "module_utils"))
