/*
 * amq-durable-ids TOPIC [MAX [PATTERN...]]: every durable subscription of TOPIC on this container's broker with its
 * counts, then the harness-id of every message a durable subscription's browse() returns, read over the JMX
 * connector on the container's loopback. It only reads: browse() copies messages out, it dispatches,
 * consumes and acknowledges nothing.
 *
 * ActiveMQ's DurableSubscriptionView.browse() (ManagedRegionBroker.getSubscriberMessages, 5.5 to 6.3)
 * returns what the topic's store holds for all the durable subscriptions of the topic on this broker, not
 * what this one subscription holds: before 5.13 the whole store, from 5.13 (Topic.browse) at most the
 * topic's maxBrowsePageSize of them (400 by default). So one browse serves them all, and the harness splits
 * it where it can (harness.cluster.introspect.split_durable): this tool only prints what the broker said.
 * The broker runs the same store browse itself every expireMessagesPeriod (30 s) to expire messages.
 *
 * A browse loads every message it returns into the broker's heap, bodies included: it is skipped when the
 * subscriptions hold more than MAX messages together (the caller sizes MAX from the workload's largest
 * body), and when they hold none.
 *
 * PATTERN: the JMX ObjectName patterns of the topic's durable subscriptions, for a broker that does not name
 * them as 5.8 on does (harness.cluster.jmx_names: 5.5 to 5.7 use Type=Subscription,persistentMode=Durable,...;
 * 5.5 names an offline one Type=Subscription,active=false,name=...). Without them, 5.8's names.
 *
 * The console's `query --invoke` could call browse, but prints the result's toString(): for browse() an
 * array's identity, for browseAsTable() every row's whole composite type, about 11 kB a message, unescaped.
 *
 * Output, one tab-separated record a line (tabs and line breaks inside values become spaces):
 *   sub      CLIENT-ID  SUBSCRIPTION-NAME  PENDING  DISPATCHED  ACTIVE   (PendingQueueSize, DispatchedQueueSize)
 *   browsed  SUBSCRIPTION-NAME          the subscription whose browse() the msg lines came from
 *   skipped  HELD  MAX                  not browsed: the subscriptions hold HELD messages, more than MAX
 *   failed   ERROR                      the browse failed (the counts stand)
 *   msg      JMS-MESSAGE-ID  HARNESS-ID (HARNESS-ID empty when the message has none)
 *   end      MESSAGES  UNCONVERTED  stable|moved
 * UNCONVERTED: entries the broker failed to convert (it logs them and leaves a null); moved: a
 * subscription's counts differed after the browse from before it. Exit 0 after `end`; 1 on a JMX error,
 * with no `end` line; 2 on a usage error. Java 11 source (bullseye's JRE is 11), compiled by each image's
 * own JRE while the image is built.
 */

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.TreeSet;
import javax.management.Attribute;
import javax.management.AttributeList;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.openmbean.CompositeData;
import javax.management.openmbean.TabularData;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

public final class AmqDurableIds {
    private static final String URL = "service:jmx:rmi:///jndi/rmi://127.0.0.1:1099/jmxrmi";
    private static final String[] VIEW = {"ClientId", "SubscriptionName", "PendingQueueSize", "DispatchedQueueSize", "Active"};

    private AmqDurableIds() {
    }

    public static void main(String[] args) {
        if (args.length < 1) {
            System.err.println("usage: amq-durable-ids TOPIC [MAX [PATTERN...]]");
            System.exit(2);
        }
        long max = Long.MAX_VALUE;
        try {
            max = args.length > 1 ? Long.parseLong(args[1]) : max;
        } catch (NumberFormatException e) {
            System.err.println("amq-durable-ids: MAX is a number of messages, not " + args[1]);
            System.exit(2);
        }
        try (JMXConnector connector = JMXConnectorFactory.connect(new JMXServiceURL(URL))) {
            List<String> patterns = new ArrayList<>();
            for (int i = 2; i < args.length; i++) {
                patterns.add(args[i]);
            }
            if (patterns.isEmpty()) { // the object names the console's `query --objname` matches (harness.cluster.jmx_names.MODERN)
                patterns.add("org.apache.activemq:type=Broker,brokerName=*,destinationType=Topic,destinationName="
                        + args[0] + ",endpoint=Consumer,clientId=*,consumerId=*");
            }
            System.out.print(read(connector.getMBeanServerConnection(), patterns, max));
            System.out.flush();
        } catch (Exception e) {
            System.err.println("amq-durable-ids: " + e);
            System.exit(1);
        }
    }

    private static String read(MBeanServerConnection jmx, List<String> patterns, long max) throws Exception {
        TreeSet<ObjectName> names = new TreeSet<>();
        for (String pattern : patterns) {
            names.addAll(jmx.queryNames(new ObjectName(pattern), null));
        }
        List<ObjectName> durable = new ArrayList<>();
        List<List<Object>> before = new ArrayList<>();
        for (ObjectName name : names) {
            List<Object> values = view(jmx, name);
            if (values.get(1) != null && !values.get(1).toString().isEmpty()) { // else not durable
                durable.add(name);
                before.add(values);
            }
        }
        StringBuilder out = new StringBuilder();
        long held = 0;
        for (List<Object> values : before) {
            record(out, "sub", values.toArray());
            held += number(values.get(2)) + number(values.get(3));
        }
        int messages = 0;
        int unconverted = 0;
        boolean stable = true;
        if (held > max) {
            record(out, "skipped", held, max);
        } else if (held > 0) {
            CompositeData[] browsed = null;
            try {
                browsed = (CompositeData[]) jmx.invoke(durable.get(0), "browse", null, null);
            } catch (Exception | OutOfMemoryError e) { // the counts above stand; only the ids are not known
                record(out, "failed", e);
            }
            if (browsed != null) {
                record(out, "browsed", before.get(0).get(1));
                for (CompositeData message : browsed) {
                    if (message == null) {
                        unconverted++;
                    } else {
                        messages++;
                        record(out, "msg", message.get("JMSMessageID"), harnessId(message));
                    }
                }
            }
            for (int i = 0; i < durable.size(); i++) {
                stable &= view(jmx, durable.get(i)).equals(before.get(i));
            }
        }
        record(out, "end", messages, unconverted, stable ? "stable" : "moved");
        return out.toString();
    }

    private static List<Object> view(MBeanServerConnection jmx, ObjectName name) throws Exception {
        AttributeList attributes = jmx.getAttributes(name, VIEW);
        List<Object> values = new ArrayList<>();
        for (String key : VIEW) {
            Object value = null;
            for (Attribute attribute : attributes.asList()) {
                if (attribute.getName().equals(key)) {
                    value = attribute.getValue();
                }
            }
            values.add(value);
        }
        return values;
    }

    private static long number(Object value) {
        return value instanceof Number ? ((Number) value).longValue() : 0;
    }

    private static String harnessId(CompositeData message) {
        if (!message.getCompositeType().containsKey("StringProperties")) {
            return "";
        }
        for (Object row : (Collection<?>) ((TabularData) message.get("StringProperties")).values()) {
            CompositeData entry = (CompositeData) row;
            if ("harness-id".equals(entry.get("key"))) {
                return String.valueOf(entry.get("value"));
            }
        }
        return "";
    }

    private static void record(StringBuilder out, String kind, Object... fields) {
        out.append(kind);
        for (Object field : fields) {
            out.append('\t').append(field == null ? "" : field.toString().replaceAll("[\t\r\n]", " "));
        }
        out.append('\n');
    }
}
