# A user's own Apache ActiveMQ binary distribution (ACTIVEMQ_DIST) on a Debian JRE root file system (see
# harness/cluster/images.py); the harness copies the tarball into the build context as dist.tar. No step
# here touches the network.
ARG ROOTFS
FROM ${ROOTFS}
ARG DIST_TOP
ARG START_JAR
# ADD unpacks a local tar archive, whatever its compression
ADD dist.tar /opt/
# Jars an old line's tarball may lack, from Debian's packages, linked into lib/optional only where the
# tarball has no jar of that name: a newer line keeps its own (two Springs on one class path would clash).
RUN set -eu; ln -s "/opt/${DIST_TOP}" /opt/activemq; mkdir -p /opt/activemq/lib/optional; \
    for pair in xstream:xstream jettison:jettison xpp3:xpp3 slf4j-api:slf4j-api \
                commons-logging:commons-logging xbean-spring:xbean-spring \
                spring-beans:spring3-beans spring-context:spring3-context spring-core:spring3-core \
                spring-expression:spring3-expression spring-aop:spring3-aop; do \
        name=${pair%%:*}; debian=${pair#*:}; \
        if ! find /opt/activemq/lib -name "${name}*.jar" | grep -q .; then \
            ln -s "/usr/share/java/${debian}.jar" "/opt/activemq/lib/optional/${debian}.jar"; \
        fi; \
    done; \
    mkdir -p /etc/amq /var/lib/amq /kahadb
COPY bin/stomp-ping bin/stomp-browse bin/stomp-subscription-ids bin/stomp-send bin/amq-entrypoint bin/amq-node-state bin/amq-healthcheck \
     bin/amq-jmx /usr/local/bin/
# amq-durable-ids reads the durable subscriptions' ids over JMX (the console cannot print a browse), and
# amq-class-count the heap's class histogram: their classes are compiled here, once, by the JRE's jdk.compiler
# module (a JRE has no javac), for this JRE (no --release: trixie's JRE has no ct.sym for it).
COPY java/AmqDurableIds.java java/AmqClassCount.java /usr/local/lib/amq-tools/
COPY bin/amq-durable-ids bin/amq-class-count /usr/local/bin/
RUN java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -m jdk.compiler/com.sun.tools.javac.Main \
        -d /usr/local/lib/amq-tools /usr/local/lib/amq-tools/AmqDurableIds.java \
        /usr/local/lib/amq-tools/AmqClassCount.java
ENV LANG=C.UTF-8 AMQ_HOME=/opt/activemq AMQ_START_JAR=${START_JAR}
ENTRYPOINT ["/usr/local/bin/amq-entrypoint"]
