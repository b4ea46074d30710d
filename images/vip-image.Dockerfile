# A user's own HAProxy image (VIP_IMAGE) as the VIP: the harness's healthcheck script on it, and HAProxy
# started in the foreground on the configuration the harness renders (mounted at /etc/haproxy/haproxy.cfg).
ARG BASE
FROM ${BASE}
COPY bin/stomp-ping /usr/local/bin/
ENTRYPOINT ["haproxy", "-W", "-db", "-f", "/etc/haproxy/haproxy.cfg"]
CMD []
