"""Debian's own ActiveMQ packages laid out as Apache's binary tarball (`ACTIVEMQ_DIST=debian:5.16.1`).

Each Debian version runs on its own suite's JRE (5.16.1 on bullseye's 11, 5.17.2 on bookworm's 17, 5.17.6 on
trixie's 21), so two versions differ in their JRE as well. As a tarball, any of them runs the way a user's own
distribution does, on the one JRE root file system the harness keeps for those (DIST_SUITE): a comparison of
versions then holds the JRE equal. This machine cannot download Apache's tarballs; the package's files are
what it has.

The tarball holds bin/activemq.jar, lib/ and lib/optional/ with the jars under their versioned names (Debian
links unversioned names to them), and conf/; optional jars Debian links but does not install are left out,
as Apache's tarball would not have them. It is made from the version's Debian image (built if missing) by
`prepare`, which the command line and the pytest plugin call before they read the settings: the settings
only find it (harness.distribution.debian_tarball), they never reach Docker.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from harness.distribution import debian_tarball, debian_version
from harness.errors import HarnessError, MachineError
from harness.settings import DISTS_CACHE, environment

_ASSEMBLE = r"""
set -eu
top=apache-activemq-$VERSION
d=/tmp/dist/$top
mkdir -p "$d/bin" "$d/lib/optional" "$d/conf"
cp -L /usr/share/activemq/bin/activemq.jar "$d/bin/activemq.jar"
for jar in /usr/share/activemq/lib/*.jar /usr/share/activemq/lib/optional/*.jar; do
    [ -e "$jar" ] || continue
    dir=$(dirname "${jar#/usr/share/activemq/}")
    cp -L "$jar" "$d/$dir/$(basename "$(readlink -f "$jar")")"
done
cp /etc/activemq/instances-available/main/* "$d/conf/"
# the same bytes every time (names sorted, times and owners fixed, no gzip time stamp): the image built from
# it is found again by its digest instead of built anew, and a new one left in the engine, at every run
tar --sort=name --mtime=@946684800 --owner=0 --group=0 --numeric-owner -cf - -C /tmp/dist "$top" \
    | gzip -n > "/out/.$top-bin.tar.gz"
mv "/out/.$top-bin.tar.gz" "/out/$top-bin.tar.gz"
chown "$OWNER" "/out/$top-bin.tar.gz"
"""


def prepare(environ: Mapping[str, str] | None = None, cache: Path = DISTS_CACHE) -> None:
    """Make the tarball `ACTIVEMQ_DIST=debian:X.Y.Z` names, if it does and the tarball is missing."""
    version = debian_version(environment(environ).get("ACTIVEMQ_DIST", ""))
    if version is not None and not debian_tarball(cache, version).is_file():
        debian_distribution(version, cache)


def debian_distribution(version: str, cache: Path = DISTS_CACHE) -> Path:
    """The Apache-layout tarball of Debian's ActiveMQ `version` in `cache`; it and the Debian image its
    files come from are made only when missing."""
    import docker

    from harness.cluster.images import broker_recipe, ensure_image

    tarball = debian_tarball(cache, version)
    if tarball.is_file():
        return tarball
    try:
        recipe = broker_recipe(version)
    except HarnessError as exc:
        raise HarnessError(f"ACTIVEMQ_DIST=debian:{version}: {exc}") from None
    try:
        client = docker.from_env()
        image = ensure_image(client, recipe, version, log=lambda line: print(line, file=sys.stderr))
        tarball.parent.mkdir(parents=True, exist_ok=True)
        client.containers.run(
            image,
            entrypoint=["bash", "-c", _ASSEMBLE],
            environment={"VERSION": version, "OWNER": f"{os.getuid()}:{os.getgid()}"},
            volumes={str(tarball.parent): {"bind": "/out", "mode": "rw"}},
            network_mode="none",
            remove=True,
        )
    except docker.errors.DockerException as exc:
        raise MachineError(
            f"ACTIVEMQ_DIST=debian:{version}: Debian's package could not be unpacked: {exc}"
        ) from None
    return tarball
