"""ACTIVEMQ_DIST: a user's tarball read (version, layout), verified against its checksum, refused in one line
when it is not an ActiveMQ distribution; and the image recipe it gives."""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cluster.images import broker_recipe, dist_recipe, image_tag
from harness.distribution import PINNED_CHECKSUMS, parse_checksum, read_distribution, resolve_distribution
from harness.errors import HarnessError, MachineError
from harness.settings import Settings
from tests.support import apache_layout, assert_one_line_error, harness, jar_with_version, tarball

CREDS = {
    "AMQ_NETWORK_USER": "n",
    "AMQ_NETWORK_PASSWORD": "np",
    "AMQ_CLIENT_USER": "c",
    "AMQ_CLIENT_PASSWORD": "cp",
}


def test_the_version_top_directory_and_start_jar_are_read_from_the_tarball(tmp_path: Path) -> None:
    dist = read_distribution(apache_layout(tmp_path))
    assert (dist.version, dist.top, dist.start_jar) == (
        "5.17.2",
        "apache-activemq-5.17.2",
        "bin/activemq.jar",
    )
    assert dist.sha256 == hashlib.sha256(dist.path.read_bytes()).hexdigest()


def test_an_old_line_is_read_from_activemq_core_and_starts_from_run_jar(tmp_path: Path) -> None:
    top = "apache-activemq-5.5.1"
    path = tarball(
        tmp_path / "old.tar.gz",
        {f"{top}/bin/run.jar": b"jar", f"{top}/lib/activemq-core-5.5.1.jar": b"jar"},
    )
    dist = read_distribution(path)
    assert (dist.version, dist.start_jar) == ("5.5.1", "bin/run.jar")


def test_jars_named_without_their_version_give_it_by_their_maven_properties(tmp_path: Path) -> None:
    path = tarball(
        tmp_path / "debian-names.tar.gz",
        {"amq/bin/activemq.jar": b"jar", "amq/lib/activemq-broker.jar": jar_with_version("5.17.2")},
    )
    assert read_distribution(path).version == "5.17.2"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"a/bin/activemq.jar": b"", "b/lib/x.jar": b""}, "expected one top directory"),
        ({"kafka/lib/activemq-broker-5.17.2.jar": b""}, r"no bin/activemq.jar or bin/run.jar"),
        ({"kafka/bin/activemq.jar": b"", "kafka/lib/kafka.jar": b""}, "no lib/activemq-broker"),
    ],
)
def test_a_tarball_that_is_not_an_activemq_distribution_is_one_line(
    tmp_path: Path, files: dict[str, bytes], message: str
) -> None:
    with pytest.raises(HarnessError, match=message) as info:
        read_distribution(tarball(tmp_path / "other.tar.gz", files))
    assert "\n" not in str(info.value) and "not an ActiveMQ binary distribution" in str(info.value)


def test_a_zip_distribution_is_refused_with_the_tarball_named(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "apache-activemq-5.17.2-bin.zip", "w") as archive:
        archive.writestr("apache-activemq-5.17.2/bin/activemq.jar", b"jar")
    with pytest.raises(HarnessError, match=r"give the -bin\.tar\.gz"):
        read_distribution(tmp_path / "apache-activemq-5.17.2-bin.zip")


def test_a_file_that_is_no_tar_archive_is_one_line(tmp_path: Path) -> None:
    garbage = tmp_path / "notes.txt"
    garbage.write_text("hello\n")
    with pytest.raises(HarnessError, match="not a tar archive") as info:
        read_distribution(garbage)
    assert "\n" not in str(info.value)


def test_the_checksum_given_is_verified(tmp_path: Path) -> None:
    path = apache_layout(tmp_path)
    good = "sha512:" + hashlib.sha512(path.read_bytes()).hexdigest()
    assert resolve_distribution(str(path), good, tmp_path / "cache").version == "5.17.2"
    bad = "sha512:" + "0" * 128
    with pytest.raises(HarnessError, match=r"sha512 is .* not the 0{16}\.\.\. given"):
        resolve_distribution(str(path), bad, tmp_path / "cache")


@pytest.mark.parametrize("text", ["md5:abc", "sha512:xyz", "sha256:" + "a" * 63, "deadbeef"])
def test_a_malformed_checksum_is_one_line(text: str) -> None:
    with pytest.raises(HarnessError, match="is not <algorithm>:<hex digest>"):
        parse_checksum(text)


def test_a_url_needs_a_checksum_and_nothing_is_fetched_without_one(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="is a URL: give its checksum as ACTIVEMQ_DIST_CHECKSUM"):
        resolve_distribution("https://example.invalid/apache-activemq-9.9.9-bin.tar.gz", None, tmp_path)
    assert not any(tmp_path.iterdir())


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="no such file"):
        resolve_distribution(str(tmp_path / "nope.tar.gz"), None, tmp_path)


def test_settings_take_the_version_from_the_tarball(tmp_path: Path) -> None:
    path = apache_layout(tmp_path, "5.17.6")
    s = Settings.from_env({**CREDS, "ACTIVEMQ_DIST": str(path)}, dotenv=tmp_path / "none")
    assert (s.version, s.suite, s.dist.name) == ("5.17.6", "bookworm", path.name)
    assert s.broker_label == f"5.17.6 ({path.name})"
    with pytest.raises(
        HarnessError, match=r"ACTIVEMQ_VERSION=5\.16\.1 but ACTIVEMQ_DIST=.* is ActiveMQ 5\.17\.6"
    ):
        Settings.from_env(
            {**CREDS, "ACTIVEMQ_DIST": str(path), "ACTIVEMQ_VERSION": "5.16.1"}, dotenv=tmp_path / "none"
        )


def test_the_image_of_a_distribution_is_named_apart_and_by_its_content(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = read_distribution(apache_layout(tmp_path / "a"))
    other = read_distribution(apache_layout(tmp_path / "b", start="bin/run.jar"))
    debian = image_tag(broker_recipe("5.17.2"), "5.17.2")
    tags = {image_tag(dist_recipe(one), "5.17.2"), image_tag(dist_recipe(other), "5.17.2"), debian}
    assert len(tags) == 3 and all(t.startswith("amq-chaos/broker:5.17.2") for t in tags)
    assert image_tag(dist_recipe(one), "5.17.2").startswith("amq-chaos/broker:5.17.2-dist-")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTP server on this machine's loopback serving a folder: (base URL, folder)."""
    folder = tmp_path / "served"
    folder.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", folder
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_a_url_is_fetched_into_the_cache_once_its_checksum_matches(
    tmp_path: Path, served: tuple[str, Path]
) -> None:
    base, folder = served
    path = apache_layout(folder, "5.17.6")
    checksum = "sha512:" + hashlib.sha512(path.read_bytes()).hexdigest()
    cache = tmp_path / "cache"
    dist = resolve_distribution(f"{base}/{path.name}", checksum, cache)
    assert (dist.version, dist.path) == ("5.17.6", cache / path.name)
    assert [p.name for p in cache.iterdir()] == [path.name]  # no partial download left


def test_a_download_that_fails_its_checksum_is_not_kept(tmp_path: Path, served: tuple[str, Path]) -> None:
    base, folder = served
    path = apache_layout(folder, "5.17.6")
    cache = tmp_path / "cache"
    with pytest.raises(HarnessError, match=r"sha256 is .* not the"):
        resolve_distribution(f"{base}/{path.name}", "sha256:" + "1" * 64, cache)
    assert list(cache.iterdir()) == []


def test_a_pinned_version_needs_no_checksum_and_is_held_to_its_pin(
    tmp_path: Path, served: tuple[str, Path]
) -> None:
    """A file named like Apache's 5.17.2 tarball that is not it (a stand-in built here) is refused by the pin."""
    base, folder = served
    impostor = apache_layout(folder, "5.17.2")
    assert impostor.name in PINNED_CHECKSUMS
    with pytest.raises(HarnessError, match=r"sha256 is .* not the 4216387240ef38e9\.\.\. given"):
        resolve_distribution(f"{base}/{impostor.name}", None, tmp_path / "cache")
    assert all(parse_checksum(value) for value in PINNED_CHECKSUMS.values())


def test_an_unreachable_url_is_a_machine_failure_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens once the socket closes
    with pytest.raises(MachineError, match="download failed") as info:
        resolve_distribution(f"http://127.0.0.1:{port}/a.tar.gz", "sha256:" + "1" * 64, tmp_path / "cache")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"ACTIVEMQ_DIST": "{garbage}"}, "not a tar archive (plain, gzip, bzip2 or xz)"),
        ({"ACTIVEMQ_DIST": "{tarball}", "ACTIVEMQ_DIST_CHECKSUM": "sha256:" + "1" * 64}, "sha256 is "),
        (
            {"ACTIVEMQ_DIST": "{tarball}", "ACTIVEMQ_DIST_CHECKSUM": "crc32:1"},
            "is not <algorithm>:<hex digest>",
        ),
        ({"DESIGN": "pure-master-slave"}, "design pure-master-slave needs ActiveMQ before 5.8"),
    ],
)
def test_the_command_line_refuses_a_bad_distribution_in_one_line_before_anything_starts(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_text("not a tarball\n")
    paths = {"garbage": str(garbage), "tarball": str(apache_layout(tmp_path))}
    done = harness("images", RUNS_DIR=str(tmp_path), **{k: v.format(**paths) for k, v in env.items()})
    assert_one_line_error(done, expected)
