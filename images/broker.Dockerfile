# Layered on a root file system bootstrapped from Debian's mirror (see harness/images.py); no step here
# touches the network.
ARG ROOTFS
FROM ${ROOTFS}
# The statistics plugin answers in JSON through xstream/jettison, which Debian ships but does not link
# into the broker's class path.
RUN ln -sf /usr/share/java/xstream.jar /usr/share/java/jettison.jar /usr/share/java/xpp3.jar \
        /usr/share/activemq/lib/optional/ \
 && mkdir -p /etc/amq /var/lib/amq /kahadb
COPY bin/stomp-ping bin/stomp-browse bin/stomp-subscription-ids bin/stomp-send bin/amq-entrypoint bin/amq-node-state bin/amq-healthcheck \
     bin/amq-jmx bin/amq-cds-train /usr/local/bin/
ENV LANG=C.UTF-8
# A broker starts once here so that every broker of the image starts from a class-data-sharing archive of
# what it loads (see amq-cds-train): a third less CPU per start.
COPY cds/activemq.xml cds/log4j.properties /usr/local/lib/amq-cds/train/
RUN amq-cds-train
# amq-durable-ids reads the durable subscriptions' ids over JMX (the console cannot print a browse), and
# amq-class-count the heap's class histogram: their classes are compiled here, once, by the JRE's jdk.compiler
# module (a JRE has no javac), for this JRE (no --release: trixie's JRE has no ct.sym for it).
COPY java/AmqDurableIds.java java/AmqClassCount.java /usr/local/lib/amq-tools/
COPY bin/amq-durable-ids bin/amq-class-count /usr/local/bin/
RUN java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -m jdk.compiler/com.sun.tools.javac.Main \
        -d /usr/local/lib/amq-tools /usr/local/lib/amq-tools/AmqDurableIds.java \
        /usr/local/lib/amq-tools/AmqClassCount.java
ENTRYPOINT ["/usr/local/bin/amq-entrypoint"]
