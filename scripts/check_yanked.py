#!/usr/bin/env python3
"""Fails when Cargo.lock locks a crates.io version that has been yanked.

`cargo deny check advisories` does this (deny.toml: `yanked = "deny"`), but only after it has
fetched the RustSec database from GitHub. Where GitHub is unreachable, `.ci/run` runs this
instead: it asks crates.io's sparse index (which cargo itself uses) about every locked package.

Usage: python3 scripts/check_yanked.py [path/to/Cargo.lock]
Exit status: 0 when nothing is yanked, 1 when something is, 2 when the index cannot be read.
"""

import concurrent.futures
import json
import sys
import tomllib
import urllib.request

INDEX = "https://index.crates.io"
CRATES_IO = "registry+https://github.com/rust-lang/crates.io-index"


def index_path(name):
    """The crate's file in the index (the layout cargo's registries use)."""
    name = name.lower()
    if len(name) <= 2:
        return f"{len(name)}/{name}"
    if len(name) == 3:
        return f"3/{name[0]}/{name}"
    return f"{name[:2]}/{name[2:4]}/{name}"


def yanked_versions(name):
    """The set of this crate's yanked versions."""
    url = f"{INDEX}/{index_path(name)}"
    request = urllib.request.Request(url, headers={"User-Agent": "tower-oauth-ci"})
    with urllib.request.urlopen(request, timeout=30) as response:
        lines = response.read().decode("utf-8").splitlines()
    return {entry["vers"] for entry in map(json.loads, filter(None, lines)) if entry["yanked"]}


def main():
    lock_path = sys.argv[1] if len(sys.argv) > 1 else "Cargo.lock"
    with open(lock_path, "rb") as f:
        lock = tomllib.load(f)
    locked = {}
    for package in lock.get("package", []):
        if package.get("source") == CRATES_IO:
            locked.setdefault(package["name"], set()).add(package["version"])

    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            yanked = dict(zip(locked, pool.map(yanked_versions, locked)))
    except OSError as e:
        print(f"check_yanked: the crates.io index could not be read: {e}", file=sys.stderr)
        return 2

    found = sorted(
        (name, version)
        for name, versions in locked.items()
        for version in versions & yanked[name]
    )
    for name, version in found:
        print(f"check_yanked: {name} {version} is yanked on crates.io", file=sys.stderr)
    count = sum(len(v) for v in locked.values())
    if found:
        return 1
    print(f"check_yanked: none of the {count} locked crates.io versions is yanked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
