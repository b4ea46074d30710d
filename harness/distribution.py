"""A user's own Apache ActiveMQ binary distribution (ACTIVEMQ_DIST): found, verified and read.

The broker image is then built from that tarball on a Debian JRE root file system instead of from Debian's
`activemq` package (images.py), so any 5.x line can run, including versions Debian never carried. What is
read here is what the rest of the harness needs before anything starts: the version (from the jar names or,
failing that, the broker jar's Maven properties), the top directory, the start jar, and a digest that names
the image.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError, MachineError

# The jar whose name carries the version: activemq-broker-X (5.8 and later, where the broker was split out)
# or activemq-core-X (5.7 and earlier), in lib/; activemq-all-X at the top of older tarballs.
_VERSIONED_JAR = re.compile(r"^(?:lib/)?activemq-(?:broker|core|all)-(?P<version>\d+\.\d+\.\d+)\.jar$")
_BROKER_JAR = re.compile(r"^lib/activemq-(?:broker|core)(?:-[0-9.]+)?\.jar$")
START_JARS = ("bin/activemq.jar", "bin/run.jar")  # run.jar: 5.5 and earlier
_CHECKSUM = re.compile(r"^(?P<algorithm>sha512|sha256|sha1|md5):(?P<digest>[0-9a-fA-F]+)$")
# md5: all Apache published beside releases as old as 5.5 (with a PGP signature, which is the real check)
_DIGEST_LENGTH = {"sha512": 128, "sha256": 64, "sha1": 40, "md5": 32}
DOWNLOAD_TIMEOUT = 300.0  # seconds for the whole download of a tarball given as a URL

# Checksums of Apache's tarballs, so that a URL for one of these needs no ACTIVEMQ_DIST_CHECKSUM. This machine
# cannot reach archive.apache.org: each value is copied from a public file that checks the download against
# Apache's own (named beside it), not read from Apache here. A wrong value fails safe: the download is refused.
PINNED_CHECKSUMS: dict[str, str] = {
    # Homebrew's activemq formula (Apache published an .md5 for this release)
    "apache-activemq-5.5.1-bin.tar.gz": "md5:3e10c163c5e3869a9720d47849a5ae29",
    # rmohr/docker-activemq 5.16.1/Dockerfile, which runs sha512sum -c on it
    "apache-activemq-5.16.1-bin.tar.gz": "sha512:f98c9da5dafa2dc291070fecd57b7fccd0954cc8b2be09abc77ea66745b8"
    "9283358297f308ec30dd47efd3e0c9d4cffc3821ef429f8f94d6c8971bbe933809b2",
    # Homebrew's activemq formula
    "apache-activemq-5.17.2-bin.tar.gz": "sha256:4216387240ef38e912f88162c52e26128f0f72d15910852d12eb0a7845819195",
}


@dataclass(frozen=True)
class Distribution:
    """An ActiveMQ binary distribution on disk, read and (when a checksum was given) verified."""

    path: Path
    version: str
    top: str  # the tarball's top directory, e.g. apache-activemq-5.17.2
    start_jar: str  # relative to `top`: bin/activemq.jar, or bin/run.jar on old lines
    sha256: str

    @property
    def name(self) -> str:
        return self.path.name


def parse_checksum(text: str) -> tuple[str, str]:
    """`sha512:<hex>` (or sha256:, sha1:, md5:) -> (algorithm, lower-case hex), a one-line error otherwise."""
    match = _CHECKSUM.match(text.strip())
    if match is None or len(match["digest"]) != _DIGEST_LENGTH[match["algorithm"]]:
        raise HarnessError(
            f"ACTIVEMQ_DIST_CHECKSUM={text!r} is not <algorithm>:<hex digest> with sha512, sha256, sha1 or md5 "
            "(Apache publishes a .sha512 file beside each release, an .md5 beside old ones)"
        )
    return match["algorithm"], match["digest"].lower()


def file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# `ACTIVEMQ_DIST=debian:X.Y.Z`: Debian's package of X.Y.Z as an Apache-layout tarball (harness.debian_dist
# makes it, before the settings are read, where Docker may be reached), found here by its version
DEBIAN_SCHEME = "debian:"


def debian_version(source: str) -> str | None:
    """The version a `debian:X.Y.Z` source names, None for any other source."""
    return source[len(DEBIAN_SCHEME) :] if source.startswith(DEBIAN_SCHEME) else None


def debian_tarball(cache: Path, version: str) -> Path:
    return cache / "debian" / f"apache-activemq-{version}-bin.tar.gz"


def resolve_distribution(source: str, checksum: str | None, cache: Path) -> Distribution:
    """ACTIVEMQ_DIST (a path, or an http(s) URL fetched into `cache`) -> a verified, read Distribution."""
    wanted = parse_checksum(checksum) if checksum else None
    if re.match(r"^https?://", source):
        if wanted is None:
            pinned = PINNED_CHECKSUMS.get(source.rsplit("/", 1)[-1])
            if pinned is None:
                raise HarnessError(
                    f"ACTIVEMQ_DIST={source} is a URL: give its checksum as ACTIVEMQ_DIST_CHECKSUM=sha512:<hex> "
                    "(from the .sha512 file Apache publishes beside it)"
                )
            wanted = parse_checksum(pinned)
        path = _download(source, cache, wanted)
    else:
        path = Path(source).expanduser().resolve()
        if not path.is_file():
            raise HarnessError(f"ACTIVEMQ_DIST={source}: no such file")
    if wanted is not None:
        _verify(path, wanted, source)
    return read_distribution(path)


def _download(url: str, cache: Path, wanted: tuple[str, str]) -> Path:
    """The tarball at `url`, in `cache` once it matched its checksum (a download that does not is deleted, so
    nothing unverified is ever found there)."""
    target = cache / url.rsplit("/", 1)[-1]
    if target.is_file():
        return target  # verified again by the caller, as every path is
    cache.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkstemp(dir=cache, prefix=".download-")[1])
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as answer, partial.open("wb") as out:
            shutil.copyfileobj(answer, out)
        _verify(partial, wanted, url)
        partial.rename(target)
    except (urllib.error.URLError, OSError) as exc:
        raise MachineError(f"ACTIVEMQ_DIST={url}: download failed: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return target


def _verify(path: Path, wanted: tuple[str, str], source: str) -> None:
    algorithm, expected = wanted
    actual = file_digest(path, algorithm)
    if actual != expected:
        raise HarnessError(
            f"ACTIVEMQ_DIST={source}: {algorithm} is {actual[:16]}..., not the {expected[:16]}... given"
        )


def read_distribution(path: Path) -> Distribution:
    """Read a tarball's layout and version; a file that is not an ActiveMQ binary distribution is a one-line
    error naming what is missing."""
    try:
        with tarfile.open(path) as archive:
            members = {m.name.removeprefix("./"): m for m in archive.getmembers() if m.isfile() or m.issym()}
            tops = {name.split("/", 1)[0] for name in members}
            if len(tops) != 1:
                raise HarnessError(
                    f"ACTIVEMQ_DIST={path}: not an ActiveMQ binary distribution "
                    f"(expected one top directory such as apache-activemq-5.17.2/, found {len(tops)})"
                )
            top = tops.pop()
            inside = {name.split("/", 1)[1]: m for name, m in members.items() if "/" in name}
            start_jar = next((jar for jar in START_JARS if jar in inside), None)
            if start_jar is None:
                raise HarnessError(
                    f"ACTIVEMQ_DIST={path}: not an ActiveMQ binary distribution (no bin/activemq.jar or bin/run.jar)"
                )
            version = _version_from_names(inside) or _version_from_broker_jar(archive, inside)
    except tarfile.ReadError as exc:
        hint = ": Apache's -bin.zip is for Windows, give the -bin.tar.gz" if path.suffix == ".zip" else ""
        raise HarnessError(
            f"ACTIVEMQ_DIST={path}: not a tar archive (plain, gzip, bzip2 or xz){hint}"
        ) from exc
    except (tarfile.TarError, OSError, EOFError, zipfile.BadZipFile) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise HarnessError(f"ACTIVEMQ_DIST={path}: not a readable tar archive ({reason})") from exc
    if version is None:
        raise HarnessError(
            f"ACTIVEMQ_DIST={path}: not an ActiveMQ binary distribution "
            "(no lib/activemq-broker-*.jar or lib/activemq-core-*.jar to read its version from)"
        )
    return Distribution(path, version, top, start_jar, file_digest(path, "sha256"))


def _version_from_names(inside: dict[str, tarfile.TarInfo]) -> str | None:
    for name in inside:
        match = _VERSIONED_JAR.match(name)
        if match:
            return match["version"]
    return None


def _version_from_broker_jar(archive: tarfile.TarFile, inside: dict[str, tarfile.TarInfo]) -> str | None:
    """A jar named without its version (as Debian names them): the version its Maven build recorded."""
    for name, member in inside.items():
        if not _BROKER_JAR.match(name) or not member.isfile():
            continue
        stream = archive.extractfile(member)
        if stream is None:
            continue
        version = version_in_jar(stream.read())
        if version:
            return version
    return None


def version_in_jar(data: bytes) -> str | None:
    """The version ActiveMQ's Maven build recorded in a jar (its pom.properties), or None."""
    with zipfile.ZipFile(io.BytesIO(data)) as jar:
        for entry in jar.namelist():
            if entry.endswith("/pom.properties") and "/org.apache.activemq/" in entry:
                for line in jar.read(entry).decode(errors="replace").splitlines():
                    if line.startswith("version="):
                        return line.partition("=")[2].strip()
    return None
