# A stand-in for a registry's broker image, as apache/activemq-classic lays one out: ActiveMQ unpacked at
# /opt/apache-activemq (ACTIVEMQ_HOME), started by its own script, on a JRE root file system without iptables,
# tc, ip or procps. Built by tests/support.py from an Apache-layout tarball of Debian's 5.17.2 files; the
# harness must run its faults on it without any of those tools.
ARG ROOTFS
FROM ${ROOTFS}
ARG DIST_TOP
ADD dist.tar /opt/
# the jars Debian's package links in from other packages, linked here as broker-dist.Dockerfile does
RUN set -eu; mv "/opt/${DIST_TOP}" /opt/apache-activemq; mkdir -p /opt/apache-activemq/lib/optional; \
    for pair in xstream:xstream jettison:jettison xpp3:xpp3 slf4j-api:slf4j-api \
                commons-logging:commons-logging xbean-spring:xbean-spring \
                spring-beans:spring3-beans spring-context:spring3-context spring-core:spring3-core \
                spring-expression:spring3-expression spring-aop:spring3-aop; do \
        name=${pair%%:*}; debian=${pair#*:}; \
        if ! find /opt/apache-activemq/lib -name "${name}*.jar" | grep -q .; then \
            ln -s "/usr/share/java/${debian}.jar" "/opt/apache-activemq/lib/optional/${debian}.jar"; \
        fi; \
    done; \
    rm -f /usr/sbin/iptables* /usr/sbin/ip6tables* /usr/sbin/xtables* /usr/sbin/arptables* /usr/sbin/ebtables* \
          /usr/sbin/nft /usr/sbin/tc /usr/sbin/ip /usr/bin/ip /usr/bin/pkill /usr/bin/pgrep /usr/bin/ps
ENV ACTIVEMQ_HOME=/opt/apache-activemq
CMD ["/opt/apache-activemq/bin/activemq", "console"]
