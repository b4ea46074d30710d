# A stand-in for one of the Debian servers the SSH backend drives, as Jepsen drives its nodes: sshd is the
# only service, and the harness starts, stops, kills and freezes the broker over SSH with amq-host-broker.
# Layered on the broker image (harness/cluster/images.py ensure_host_image), so the broker, its tools and its
# class-data archive are the image's own; openssh-server, sudo and tini are in its root file system already.
# No step here touches the network.
ARG BROKER_IMAGE
FROM ${BROKER_IMAGE}
# '*' is no password rather than a locked account ('!'), to which sshd without PAM refuses even a key.
# openssh-server's postinst made host keys in the root file system: every container would share them, so none
# is kept and each container makes its own (amq-host-init).
RUN useradd --uid 1000 --user-group --create-home --home-dir /home/amq --shell /bin/bash --password '*' amq \
 && rm -f /etc/ssh/ssh_host_* \
 && mkdir -p /etc/amq /kahadb /var/lib/amq/log /run/amq /etc/amq-chaos \
 && chmod 0755 /etc/amq /kahadb /var/lib/amq /var/lib/amq/log
COPY host/sshd_config /etc/ssh/sshd_config
COPY bin/amq-host-init bin/amq-host-broker /usr/local/bin/
# What amq may run as root with no password: the broker's service script and the commands faults are made of.
# Each by the path sudo resolves its name to here (its secure_path, the PATH order `command -v` follows too),
# which differs between suites (bullseye keeps /bin apart from /usr/bin).
RUN set -e; allowed=/usr/local/bin/amq-host-broker; \
    for name in iptables tc rm sh perl pkill tee; do \
        path=$(command -v "$name") || { echo "host.Dockerfile: no $name in the image" >&2; exit 1; }; \
        allowed="$allowed, $path"; \
    done; \
    echo "amq ALL=(root) NOPASSWD: $allowed" > /etc/sudoers.d/amq-chaos; \
    chmod 0440 /etc/sudoers.d/amq-chaos; \
    visudo -c -q
# the configuration checked here, not at a container's start, with a throwaway key (the image keeps none)
RUN mkdir -p /run/sshd && ssh-keygen -q -t ed25519 -N '' -f /tmp/check_key \
 && /usr/sbin/sshd -t -h /tmp/check_key && rm -f /tmp/check_key /tmp/check_key.pub
EXPOSE 22
# tini as PID 1 reaps the brokers amq-host-broker starts and leaves (they outlive the SSH session that started
# them, and a killed one must not stay a zombie that still looks alive)
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/amq-host-init"]
