ARG ROOTFS
FROM ${ROOTFS}
COPY bin/stomp-ping /usr/local/bin/
ENTRYPOINT ["/usr/sbin/haproxy", "-W", "-db", "-f", "/etc/haproxy/haproxy.cfg"]
