"""BROKER_IMAGE and VIP_IMAGE: what the probe of a user's image says is read into a version, a home and a
start jar, or refused in one line naming what is missing; the settings that cannot go with an image are
refused before Docker is asked anything; and the layered images are named by what goes into them."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.broker_image import BrokerImage, parse_probe
from harness.cluster.images import broker_image_recipe, image_tag, vip_recipe
from harness.errors import HarnessError
from harness.settings import Settings

CREDS = {
    "AMQ_NETWORK_USER": "n",
    "AMQ_NETWORK_PASSWORD": "np",
    "AMQ_CLIENT_USER": "c",
    "AMQ_CLIENT_PASSWORD": "cp",
}
TOOLS = "has bash\nhas java\nhas timeout\n"

# apache/activemq-classic's layout: the tarball unpacked at /opt/apache-activemq, ACTIVEMQ_HOME declared
CLASSIC = (
    "jar /opt/apache-activemq/lib/activemq-broker-5.18.3.jar\n"
    "jar /opt/apache-activemq/lib/activemq-client-5.18.3.jar\n"
    "start /opt/apache-activemq/bin/activemq.jar\n" + TOOLS + "home /opt/apache-activemq\n"
)


def test_the_version_home_and_start_jar_of_an_apache_layout() -> None:
    probed = parse_probe("x", CLASSIC)
    assert (probed.version, probed.home, probed.start_jar) == (
        "5.18.3",
        "/opt/apache-activemq",
        "bin/activemq.jar",
    )


def test_jars_named_without_a_version_leave_it_to_be_read_inside_the_broker_jar() -> None:
    debian = "jar /opt/amq/lib/activemq-client.jar\njar /opt/amq/lib/activemq-broker.jar\nstart /opt/amq/bin/activemq.jar\n"
    probed = parse_probe("x", debian + TOOLS + "home \n")
    assert (probed.version, probed.broker_jar) == (None, "/opt/amq/lib/activemq-broker.jar")


def test_an_old_line_starts_from_run_jar_and_may_carry_activemq_all_at_its_top() -> None:
    probe = (
        "jar /srv/apache-activemq-5.5.1/activemq-all-5.5.1.jar\n"
        "jar /srv/apache-activemq-5.5.1/lib/activemq-core-5.5.1.jar\n"
        "start /srv/apache-activemq-5.5.1/bin/run.jar\n" + TOOLS + "home \n"
    )
    probed = parse_probe("x", probe)
    assert (probed.version, probed.home, probed.start_jar) == (
        "5.5.1",
        "/srv/apache-activemq-5.5.1",
        "bin/run.jar",
    )


def test_two_activemqs_need_the_image_to_say_which_it_runs() -> None:
    two = (
        "jar /opt/a/lib/activemq-broker-5.17.2.jar\nstart /opt/a/bin/activemq.jar\n"
        "jar /opt/b/lib/activemq-broker-6.1.2.jar\nstart /opt/b/bin/activemq.jar\n" + TOOLS
    )
    with pytest.raises(HarnessError, match=r"more than one ActiveMQ \(/opt/a, /opt/b\): set ACTIVEMQ_HOME"):
        parse_probe("x", two + "home \n")
    assert parse_probe("x", two + "home /opt/b/\n").version == "6.1.2"


@pytest.mark.parametrize(
    ("probe", "message"),
    [
        (CLASSIC.replace("has bash\n", ""), r"BROKER_IMAGE=x has no bash on its PATH"),
        (CLASSIC.replace("has java\n", "").replace("has timeout\n", ""), r"has no java, timeout on its PATH"),
        (TOOLS + "home \n", r"BROKER_IMAGE=x: no ActiveMQ found in it"),
        (CLASSIC.replace("start ", "other "), r"ActiveMQ at /opt/apache-activemq has no bin/activemq.jar"),
    ],
)
def test_an_image_the_harness_cannot_run_is_one_line_naming_what_is_missing(probe: str, message: str) -> None:
    with pytest.raises(HarnessError, match=message) as error:
        parse_probe("x", probe)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"ACTIVEMQ_DIST": "a.tar.gz"}, "ACTIVEMQ_DIST and BROKER_IMAGE both name the broker"),
        ({"AMQ_CHAOS_BACKEND": "k8s"}, "compose backend's; BACKEND=k8s runs K8S_BROKER_IMAGE"),
        ({"AMQ_CHAOS_BACKEND": "ssh"}, "compose backend's; BACKEND=ssh runs the brokers its hosts have"),
        ({"BROKER_IMAGE": "two words"}, "is not an image name"),
    ],
)
def test_settings_refuse_an_image_with_what_cannot_go_with_it(
    tmp_path: Path, extra: dict[str, str], message: str
) -> None:
    env = {**CREDS, "BROKER_IMAGE": "example.org/activemq-classic:5.18.3", **extra}
    with pytest.raises(HarnessError, match=message):
        Settings.from_env(env, dotenv=tmp_path / "none")


def test_a_layered_image_is_named_by_the_image_it_is_layered_on() -> None:
    one = BrokerImage("a:1", "sha256:" + "1" * 64, "5.18.3", "/opt/apache-activemq", "bin/activemq.jar")
    other = BrokerImage("a:1", "sha256:" + "2" * 64, "5.18.3", "/opt/apache-activemq", "bin/activemq.jar")
    moved = BrokerImage("a:1", "sha256:" + "1" * 64, "5.18.3", "/opt/activemq", "bin/activemq.jar")
    tags = {image_tag(broker_image_recipe(i), "5.18.3") for i in (one, other, moved)}
    assert len(tags) == 3 and all(t.startswith("amq-chaos/broker:5.18.3-image-") for t in tags)
    assert dict(broker_image_recipe(one).buildargs) == {
        "AMQ_HOME": "/opt/apache-activemq",
        "START_JAR": "bin/activemq.jar",
    }
    assert image_tag(vip_recipe("sha256:" + "3" * 64)).startswith("amq-chaos/vip:own-image-")
    assert not vip_recipe("sha256:" + "3" * 64).needs_rootfs and vip_recipe().needs_rootfs
