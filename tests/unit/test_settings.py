from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.cluster.images import broker_recipe, image_tag
from harness.errors import HarnessError
from harness.settings import PREFIX, ROOT, VARIABLES, Settings, given, last_seed
from tests.support import as_env

CREDS = {
    "AMQ_NETWORK_USER": "n",
    "AMQ_NETWORK_PASSWORD": "np",
    "AMQ_CLIENT_USER": "c",
    "AMQ_CLIENT_PASSWORD": "cp",
}


def settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({**CREDS, **as_env(env)}, dotenv=tmp_path / "none")


def test_defaults(tmp_path: Path) -> None:
    s = settings(tmp_path)
    assert (s.version, s.suite, s.vip_port, s.topology.group) == ("5.17.2", "bookworm", 61613, "chaos")
    assert (s.backend, s.inventory) == ("compose", None)


def test_the_ssh_backend_takes_its_inventory_and_a_bad_one_is_refused_when_the_cluster_opens(
    tmp_path: Path,
) -> None:
    from harness.cluster.backends import open_cluster

    chosen = settings(tmp_path, BACKEND="ssh", INVENTORY=str(tmp_path / "hosts.toml"))
    assert (chosen.backend, chosen.inventory) == ("ssh", tmp_path / "hosts.toml")
    (tmp_path / "hosts.toml").write_text("group = 7\n")
    with pytest.raises(HarnessError, match=r"hosts.toml: the top level: group must be a non-empty string$"):
        open_cluster(chosen)


@pytest.mark.parametrize(("version", "suite"), [("5.16.1", "bullseye"), ("5.17.6", "trixie")])
def test_each_version_maps_to_its_debian_suite(tmp_path: Path, version: str, suite: str) -> None:
    assert settings(tmp_path, ACTIVEMQ_VERSION=version).suite == suite


def test_a_tarball_runs_on_the_jre_chosen_and_a_rerun_says_which(tmp_path: Path) -> None:
    from tests.support import apache_layout

    path = apache_layout(tmp_path, "5.16.1")
    chosen = settings(tmp_path, ACTIVEMQ_DIST=str(path), JRE="bullseye")
    assert (chosen.version, chosen.suite) == ("5.16.1", "bullseye")
    assert chosen.broker_words == [f"ACTIVEMQ_DIST={path}", "JRE=bullseye"]
    assert "on bullseye's JRE" in chosen.broker_label
    assert settings(tmp_path, ACTIVEMQ_DIST=str(path)).suite == "bookworm"
    assert settings(tmp_path, ACTIVEMQ_VERSION="5.17.6").broker_words == ["ACTIVEMQ_VERSION=5.17.6"]
    assert settings(tmp_path).broker_words == []
    with pytest.raises(HarnessError, match=r"^JRE='buster' is not a Debian suite the harness builds: "):
        settings(tmp_path, ACTIVEMQ_DIST=str(path), JRE="buster")


def test_debian_s_package_as_a_tarball_is_found_once_made_and_named_so_in_a_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import harness.settings
    from harness.distribution import debian_tarball
    from tests.support import apache_layout

    monkeypatch.setattr(harness.settings, "DISTS_CACHE", tmp_path / ".cache" / "dists")
    with pytest.raises(HarnessError, match=r"^ACTIVEMQ_DIST=debian:5.16.1: its tarball is not made yet"):
        settings(tmp_path, ACTIVEMQ_DIST="debian:5.16.1")
    with pytest.raises(HarnessError, match=r"^ACTIVEMQ_DIST=debian:5.5.0: Debian carries ActiveMQ 5.16.1, "):
        settings(tmp_path, ACTIVEMQ_DIST="debian:5.5.0")
    made = debian_tarball(tmp_path / ".cache" / "dists", "5.16.1")
    made.parent.mkdir(parents=True)
    apache_layout(made.parent, "5.16.1")
    chosen = settings(tmp_path, ACTIVEMQ_DIST="debian:5.16.1", JRE="bullseye")
    assert (chosen.version, chosen.dist.path if chosen.dist else None) == ("5.16.1", made)
    assert chosen.broker_words == ["ACTIVEMQ_DIST=debian:5.16.1", "JRE=bullseye"]


def test_unknown_version_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(HarnessError) as info:
        settings(tmp_path, ACTIVEMQ_VERSION="5.5.0")
    assert str(info.value) == (
        "unknown ACTIVEMQ_VERSION '5.5.0': choose one of 5.16.1, 5.17.2, 5.17.6, "
        "or give your own distribution as ACTIVEMQ_DIST=apache-activemq-X.Y.Z-bin.tar.gz"
    )
    with pytest.raises(HarnessError, match="unknown ACTIVEMQ_VERSION"):
        broker_recipe("6.0.0")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VIP_PORT": "70000"}, "VIP_PORT='70000' is not a TCP port"),
        ({"VIP_PORT": "abc"}, "VIP_PORT='abc' is not a TCP port"),
        ({"AMQ_HEAP": "lots"}, "AMQ_HEAP='lots' is not a JVM heap size"),
        ({"READY_TIMEOUT": "-1"}, "READY_TIMEOUT='-1' must be a positive number"),
        ({"AMQ_GROUP": "a-b"}, "group name 'a-b'"),
        ({"STORE_SIZE": "16m"}, "STORE_SIZE='16m' is not a store size from 32m to 4g"),
        ({"STORE_SIZE": "8g"}, "STORE_SIZE='8g' is not a store size from 32m to 4g"),
        ({"STORE_SIZE": "128"}, "STORE_SIZE='128' is not a store size"),
        ({"BACKEND": "nomad"}, "unknown BACKEND 'nomad': one of compose, ssh, k8s"),
        ({"BACKEND": "k8s"}, "BACKEND=k8s needs K8S_NAMESPACE"),
        ({"BACKEND": "ssh"}, "BACKEND=ssh needs INVENTORY=hosts.toml"),
    ],
)
def test_bad_values_name_the_variable(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(HarnessError, match=message.replace("(", r"\(")):
        settings(tmp_path, **env)


def test_missing_credentials(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="missing credentials AMQ_CLIENT_PASSWORD"):
        Settings.from_env(
            {k: v for k, v in CREDS.items() if k != "AMQ_CLIENT_PASSWORD"}, dotenv=tmp_path / "x"
        )


def test_malformed_dotenv_line_is_located(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("# comment\nAMQ_CLIENT_USER=c\nthis is not a setting\n")
    with pytest.raises(HarnessError, match=r"\.env:3: expected KEY=VALUE"):
        Settings.from_env({}, dotenv=dotenv)


def test_dotenv_reads_quotes_exports_and_comments_as_people_write_them(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    lines = [f"export {k}='{v}'" for k, v in CREDS.items()]
    lines += [
        'AMQ_GROUP="mygroup"  # the multicast group',
        "AMQ_CHAOS_VIP_PORT=1234 # a port",
        "AMQ_HEAP='512m'",
    ]
    dotenv.write_text("\n".join(lines) + "\n")
    settings = Settings.from_env({}, dotenv=dotenv)
    assert (settings.topology.group, settings.vip_port, settings.heap) == ("mygroup", 1234, "512m")
    assert settings.credentials.client_password == CREDS["AMQ_CLIENT_PASSWORD"]
    dotenv.write_text("AMQ_GROUP\n")
    with pytest.raises(HarnessError, match=r"\.env:1: AMQ_GROUP has no value"):
        Settings.from_env({}, dotenv=dotenv)


def test_dotenv_is_overridden_by_environment(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("\n".join(f"{k}={v}" for k, v in CREDS.items()) + "\nAMQ_CHAOS_VIP_PORT=1234\n")
    assert Settings.from_env({"AMQ_CHAOS_VIP_PORT": "4321"}, dotenv=dotenv).vip_port == 4321


def test_image_tag_changes_with_version_and_is_stable() -> None:
    assert image_tag(broker_recipe("5.17.2"), "5.17.2") == image_tag(broker_recipe("5.17.2"), "5.17.2")
    assert image_tag(broker_recipe("5.17.2"), "5.17.2") != image_tag(broker_recipe("5.16.1"), "5.16.1")


def test_compose_failure_names_the_cause_not_the_summary() -> None:
    from harness.cluster.compose import _last_error_line

    output = (
        "Creating x_vip_1 ... error\n\n"
        "ERROR: for x_vip_1  Cannot start service vip: Bind for 127.0.0.1:33001 failed: port is already allocated\n"
        "ERROR: Encountered errors while bringing up the project.\n"
    )
    assert "port is already allocated" in _last_error_line(output)


def test_free_port_stays_below_the_ephemeral_range() -> None:
    from harness.cluster.control import free_port

    assert all(20000 <= free_port() < 32000 for _ in range(20))


def test_the_makefile_passes_every_harness_setting_under_its_prefix() -> None:
    """`SEED=7 make chaos` works only for the names the Makefile passes on: a setting added to VARIABLES and
    forgotten there would be silently ignored under make."""
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    listed = set(re.search(r"^SETTINGS := (.*)$", text, re.M)[1].split())  # type: ignore[index]
    plain = {v.name for v in VARIABLES if v.harness and v.env == PREFIX + v.name}
    assert listed == plain
    for renamed in (v for v in VARIABLES if v.harness and v.env != PREFIX + v.name):
        assert f"export {renamed.env} := $({renamed.name})" in text


def test_settings_are_read_under_the_prefix_only_and_a_retired_name_is_said_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("harness.settings._warned", set())
    assert given({"SEED": "7", "SIZE": "10"}, dotenv=tmp_path / "none") == {}
    assert given({"AMQ_CHAOS_SEED": "7", "AMQ_CHAOS_MINUTES": "2"}, dotenv=tmp_path / "none") == {
        "SEED": "7",
        "CHAOS_MINUTES": "2",
    }
    assert settings(tmp_path, TOPOLOGY="hardened").design.name == "seed"
    settings(tmp_path, TOPOLOGY="hardened")
    assert capsys.readouterr().err.count("TOPOLOGY is no longer read; set DESIGN") == 1


def test_seed_last_is_the_newest_seeded_run_folder(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="SEED=last: no earlier run in"):
        last_seed(tmp_path / "soak")
    for name in ("20261201-010000-seed5", "20261202-010000-seed9", "20261130-010000-seed1"):
        (tmp_path / "soak" / name).mkdir(parents=True)
    assert last_seed(tmp_path / "soak") == 9
