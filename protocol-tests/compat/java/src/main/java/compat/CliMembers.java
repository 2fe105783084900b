package compat;

import static compat.Cli.CONSUMER;
import static compat.Cli.GROUPS;
import static compat.Cli.PRINT_ALL;
import static compat.Cli.lines;
import static compat.Cli.offsets;
import static compat.Cli.parse;
import static compat.Cli.produce;
import static compat.Driver.WAIT;
import static compat.Driver.check;
import static compat.Driver.waitFor;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Two console consumers sharing a group, watched through `kafka-consumer-groups --describe
 * --members --verbose`: the split between them, the survivor's take-over, every record once.
 * The console consumer commits automatically, before its partitions move and when it closes;
 * a member is stopped the way Ctrl-C stops the tool (its shutdown hook).
 */
final class CliMembers {
    private CliMembers() {}

    /** A console consumer in `group`, running until it is stopped. */
    private static Tools.Running member(String bootstrap, String topic, String group, String name, String[] protocol) {
        List<String> args = new ArrayList<>(List.of("--bootstrap-server", bootstrap, "--topic", topic, "--group", group,
                "--from-beginning", "--timeout-ms", Long.toString(2 * WAIT.toMillis()), "--consumer-property",
                "client.id=" + name));
        args.addAll(List.of(PRINT_ALL));
        args.addAll(List.of(protocol));
        return Tools.start(CONSUMER, args.toArray(String[]::new));
    }

    private static int printed(Tools.Running... members) {
        int n = 0;
        for (Tools.Running m : members) {
            n += (int) m.outSoFar().lines().filter(l -> !l.isEmpty()).count();
        }
        return n;
    }

    /** Each member's partitions of topic, as `kafka-consumer-groups --describe --members --verbose` lists them. */
    static List<Set<Integer>> assignments(String bootstrap, String group, String topic) {
        Tools.Result r = Tools.run(GROUPS, "--bootstrap-server", bootstrap, "--describe", "--group", group,
                "--members", "--verbose");
        List<Set<Integer>> out = new ArrayList<>();
        if (r.code() != 0) {
            return out;
        }
        // A member's row names its (current) assignment first as topic:p,p,...; "-" when empty.
        Pattern assignment = Pattern.compile(Pattern.quote(topic) + ":([\\d,]+)");
        for (String l : r.out().split("\n")) {
            if (!l.startsWith(group + " ")) {
                continue;
            }
            Set<Integer> parts = new TreeSet<>();
            Matcher m = assignment.matcher(l);
            if (m.find()) {
                for (String p : m.group(1).split(",")) {
                    parts.add(Integer.parseInt(p));
                }
            }
            out.add(parts);
        }
        return out;
    }

    private static boolean split(List<Set<Integer>> members) {
        if (members.size() != 2 || members.get(0).isEmpty() || members.get(1).isEmpty()) {
            return false;
        }
        Set<Integer> all = new TreeSet<>(members.get(0));
        all.addAll(members.get(1));
        return all.equals(Set.of(0, 1, 2)) && members.get(0).size() + members.get(1).size() == 3;
    }

    /** consumer-group-rebalance (classic) and consumer-protocol-group (KIP-848, `kip848`). */
    static void twoMembers(String bootstrap, String topic, boolean kip848) throws Exception {
        String[] protocol = kip848 ? new String[] {"--consumer-property", "group.protocol=consumer"} : new String[0];
        String group = "compat-" + topic;
        Tools.run(Cli.TOPICS, "--bootstrap-server", bootstrap, "--create", "--topic", topic, "--partitions", "3",
                "--replication-factor", "1").ok("kafka-topics --create");
        Tools.Running a = member(bootstrap, topic, group, "member-a", protocol);
        Tools.Running b = member(bootstrap, topic, group, "member-b", protocol);
        try {
            List<List<Set<Integer>>> seen = new ArrayList<>();
            waitFor(WAIT, "kafka-consumer-groups to show two members splitting the partitions (saw " + seen + ")", () -> {
                List<Set<Integer>> now = assignments(bootstrap, group, topic);
                seen.add(now);
                return split(now) || a.result.isDone() || b.result.isDone();
            });
            for (Tools.Running m : List.of(a, b)) {
                if (m.result.isDone()) {
                    throw new Driver.Failed("a console consumer ended before the split: " + Tools.tail(m.result.join().err()));
                }
            }
            produce(bootstrap, topic, lines("before", 8, 45)).ok("kafka-console-producer");
            waitFor(WAIT, "the two members to print 45 records", () -> printed(a, b) >= 45);
            // Stopped like Ctrl-C: the member closes and leaves the group.
            Tools.Result left = b.stop().ok("the leaving console consumer");
            waitFor(WAIT, "the remaining member to own every partition",
                    () -> assignments(bootstrap, group, topic).equals(List.of(Set.of(0, 1, 2))));
            produce(bootstrap, topic, lines("after", 9, 45)).ok("kafka-console-producer");
            waitFor(WAIT, "90 records printed in all", () -> printed(a) + (int) left.out().lines().count() >= 90);
            Tools.Result stayed = a.stop().ok("the remaining console consumer");
            List<Cli.Printed> all = new ArrayList<>(parse(left.out()));
            all.addAll(parse(stayed.out()));
            Set<String> distinct = new HashSet<>();
            all.forEach(p -> distinct.add(p.partition() + "/" + p.offset()));
            check(all.size() == 90 && distinct.size() == 90, all.size() + " records printed, " + distinct.size()
                    + " distinct, expected 90 exactly once");
        } finally {
            a.stop();
            b.stop();
        }
        // Both closed: a new member resumes from their commits and sees only new records.
        Map<Integer, Long> end = offsets(bootstrap, topic, -1);
        produce(bootstrap, topic, lines("later", 10, 30)).ok("kafka-console-producer");
        List<String> args = new ArrayList<>(List.of("--bootstrap-server", bootstrap, "--topic", topic, "--group", group,
                "--max-messages", "30", "--timeout-ms", "20000"));
        args.addAll(List.of(PRINT_ALL));
        args.addAll(List.of(protocol));
        List<Cli.Printed> later = parse(Tools.run(CONSUMER, args.toArray(String[]::new)).ok("the new member").out());
        check(later.size() == 30 && later.stream().allMatch(p -> p.offset() >= end.get(p.partition())),
                "the new member read " + later.size() + " records, not only the 30 after the commits " + end);
    }
}
