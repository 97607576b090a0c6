"""Fail when managed-host code imports anything but the standard library.

vermin proves the Python version; this proves the dependency rule: files under
module_utils/ import only the standard library and their own package (relative
imports), files under library/ may also import ansible.module_utils.
"""
import ast
import os
import sys

# "compression" joined the standard library in 3.14; code imports it only when present.
STDLIB = set(sys.stdlib_module_names) | {"compression"}


def violations(path, allow_ansible):
    with open(path, "rb") as handle:
        tree = ast.parse(handle.read(), filename=path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in STDLIB or top == "__future__":
                continue
            if allow_ansible and name.startswith("ansible.module_utils"):
                continue
            yield "%s:%d imports %s, which is not the standard library" % (path, node.lineno, name)


def main(roots):
    found = []
    for root in roots:
        for directory, _dirs, files in os.walk(root):
            for name in sorted(files):
                if name.endswith(".py"):
                    found += violations(os.path.join(directory, name), allow_ansible=root.rstrip("/") == "library")
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
