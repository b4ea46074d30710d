/*
 * amq-class-count CLASS...: how many live instances of each named class this container's broker holds, and
 * their bytes, from the JVM's class histogram (the GC.class_histogram diagnostic command, which first runs
 * a full collection, so only reachable objects count), read over the JMX connector on the container's
 * loopback. A leak that a broker's own MBeans do not show (AMQ-9283: a STOMP connection keeping every
 * subscription it unsubscribed) shows here as a count that grows with what the client did.
 *
 * The DiagnosticCommand MBean is the JVM's (jdk.management, in every JRE from 8 on), so this needs no JDK
 * tool (jcmd, jmap) in the image and no ActiveMQ class.
 *
 * Output, one tab-separated record a line:
 *   class  NAME  INSTANCES  BYTES      one per CLASS asked for, 0 0 when the heap holds none
 *   end    CLASSES                     the number of classes the histogram listed
 * Exit 0 after `end`; 1 on a JMX error or a histogram that could not be read, with no `end` line; 2 on a
 * usage error. Java 8 source, compiled by each image's own JRE while the image is built.
 */

import java.util.LinkedHashMap;
import java.util.Map;

import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

public final class AmqClassCount {
    private static final String URL = "service:jmx:rmi:///jndi/rmi://127.0.0.1:1099/jmxrmi";

    public static void main(String[] args) {
        if (args.length == 0) {
            System.err.println("usage: amq-class-count CLASS...");
            System.exit(2);
        }
        Map<String, long[]> wanted = new LinkedHashMap<>();
        for (String name : args) {
            wanted.put(name, new long[] {0, 0});
        }
        String histogram;
        try (JMXConnector connector = JMXConnectorFactory.connect(new JMXServiceURL(URL))) {
            MBeanServerConnection server = connector.getMBeanServerConnection();
            histogram = (String) server.invoke(
                new ObjectName("com.sun.management:type=DiagnosticCommand"),
                "gcClassHistogram",
                new Object[] {new String[0]},
                new String[] {String[].class.getName()});
        } catch (Exception e) {
            System.err.println("JMX: " + e);
            System.exit(1);
            return;
        }
        // " 1234:   56   7890  org.example.Name (module)" after a header; the last line is "Total ..."
        int classes = 0;
        for (String line : histogram.split("\n")) {
            String[] fields = line.trim().split("\\s+");
            if (fields.length < 4 || !fields[0].endsWith(":")) {
                continue;
            }
            classes++;
            long[] counts = wanted.get(fields[3]);
            if (counts != null) {
                counts[0] += Long.parseLong(fields[1]);
                counts[1] += Long.parseLong(fields[2]);
            }
        }
        if (classes == 0) {
            System.err.println("the class histogram listed no class");
            System.exit(1);
        }
        for (Map.Entry<String, long[]> entry : wanted.entrySet()) {
            System.out.println("class\t" + entry.getKey() + "\t" + entry.getValue()[0] + "\t" + entry.getValue()[1]);
        }
        System.out.println("end\t" + classes);
    }
}
