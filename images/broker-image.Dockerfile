# A user's own broker image (BROKER_IMAGE) with the harness's tools layered on: the in-broker scripts (bash),
# the durable-subscription reader's class, and the entrypoint that starts the broker from the configuration
# the harness renders. Nothing here needs the image to carry iptables, tc or procps: the network faults run
# from a helper container in the broker's network namespace (harness/cluster/control.py, net_exec). No step
# touches the network.
ARG ROOTFS
ARG BASE
# the readers' classes, compiled on a Debian JRE (whose jdk.compiler module runs as javac) for Java 8 and
# later: the user's image may have a JRE only, and an older one
FROM ${ROOTFS} AS tools
COPY java/AmqDurableIds.java java/AmqClassCount.java /src/
RUN mkdir /out && java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -m jdk.compiler/com.sun.tools.javac.Main \
        -nowarn -source 8 -target 8 -Xlint:-options -d /out /src/AmqDurableIds.java /src/AmqClassCount.java

FROM ${BASE}
ARG AMQ_HOME
ARG START_JAR
# the entrypoint writes the broker's data, log and lock gate as root, as the Debian-built images do
USER root
COPY bin/stomp-ping bin/stomp-browse bin/stomp-subscription-ids bin/stomp-send bin/amq-entrypoint bin/amq-node-state \
     bin/amq-healthcheck bin/amq-jmx bin/amq-durable-ids bin/amq-class-count /usr/local/bin/
COPY --from=tools /out/ /usr/local/lib/amq-tools/
RUN mkdir -p /etc/amq /var/lib/amq /kahadb
ENV LANG=C.UTF-8 AMQ_HOME=${AMQ_HOME} AMQ_START_JAR=${START_JAR}
ENTRYPOINT ["/usr/local/bin/amq-entrypoint"]
CMD []
