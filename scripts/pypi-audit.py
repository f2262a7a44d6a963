"""Known vulnerabilities of the packages installed in this environment, from PyPI's own data
(`make audit`), for a machine where pip-audit cannot reach its sources.

pip-audit asks PyPI for each version's record (/pypi/<name>/<version>/json) or osv.dev; where
only the project's record (/pypi/<name>/json) can be reached, this reads its `vulnerabilities`,
which PyPI gives for the project's latest release (the same OSV data pip-audit reads). So a
package installed at its latest release is checked; one at an older release cannot be, and is
listed as such: upgrade it, or run `pip-audit -r requirements.txt --strict` where the internet is
reachable. Exit status 1 when a vulnerability is found or a package could not be checked.

Standard library only: python scripts/pypi-audit.py (the environment's python).
"""

import json
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata

PYPI = "https://pypi.org/pypi/{name}/json"


def installed() -> dict[str, str]:
    """name -> version of every distribution in this environment."""
    found = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found[name.lower()] = dist.version
    return found


def check(name: str, version: str) -> tuple[str, str, str, list[str]]:
    """(name, version, latest release or what went wrong, known vulnerabilities' ids)."""
    try:
        url = PYPI.format(name=name)  # https, PyPI's: never a file: or other scheme
        with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 # nosec B310
            record = json.load(answer)
    except (urllib.error.URLError, TimeoutError, ValueError) as error:
        return name, version, f"not read: {error}", []
    latest = record["info"]["version"]
    ids = [
        ", ".join([vuln["id"], *vuln.get("aliases", [])])
        for vuln in record.get("vulnerabilities") or []
        if not vuln.get("withdrawn")
    ]
    return name, version, latest, ids


def main() -> int:
    packages = sorted(installed().items())
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda item: check(*item), packages))
    vulnerable, unchecked = [], []
    for name, version, latest, ids in results:
        if latest != version:
            unchecked.append(f"{name} {version} (latest: {latest})")
        elif ids:
            vulnerable.append(f"{name} {version}: {'; '.join(ids)}")
    checked = len(results) - len(unchecked)
    print(f"{len(results)} packages installed; {checked} at their latest release, checked.")
    for line in vulnerable:
        print(f"VULNERABLE {line}")
    for line in unchecked:
        print(f"not checked {line}")
    if not vulnerable:
        print(f"No known vulnerability in the {checked} checked.")
    return 1 if vulnerable or unchecked else 0


if __name__ == "__main__":
    sys.exit(main())
