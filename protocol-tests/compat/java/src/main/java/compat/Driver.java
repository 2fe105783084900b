package compat;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.function.BooleanSupplier;

/**
 * The driver contract shared by both Java clients: `--bootstrap HOST:PORT --scenario ID --topic
 * NAME` runs one scenario and prints exactly one JSON result line; `--versions` prints the
 * client's versions instead.
 */
final class Driver {
    /** Partitions of every scenario topic (the runner sets num.partitions to match). */
    static final int PARTITIONS = 3;
    /** How long a wait for records or for the broker's state lasts before the scenario fails. */
    static final Duration WAIT = Duration.ofSeconds(30);

    /** A check in a scenario did not hold; the message says which. */
    static final class Failed extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Failed(String what) {
            super(what);
        }
    }

    /** The client cannot express this scenario. */
    static final class Unsupported extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Unsupported(String why) {
            super(why);
        }
    }

    /** One scenario: runs against the broker at bootstrap on the given (fresh) topic. */
    @FunctionalInterface
    interface Scenario {
        void run(String bootstrap, String topic) throws Exception;
    }

    private Driver() {}

    /** Fails the scenario with `what` unless `cond` holds. */
    static void check(boolean cond, String what) {
        if (!cond) {
            throw new Failed(what);
        }
    }

    /** Polls `cond` every 100 ms until it holds; fails with `what` once `timeout` passed. */
    static void waitFor(Duration timeout, String what, BooleanSupplier cond) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new Failed("gave up after " + timeout.toSeconds() + " s waiting for " + what);
            }
            Thread.sleep(100);
        }
    }

    /** An action whose failure is worth retrying for a while (a broker's metadata may lag). */
    @FunctionalInterface
    interface Attempt<T> {
        T get() throws Exception;
    }

    /** Calls `attempt` until it succeeds, for up to 15 s; the last error then propagates. */
    static <T> T retry(Attempt<T> attempt) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (true) {
            try {
                return attempt.get();
            } catch (Exception e) {
                if (System.nanoTime() - deadline > 0) {
                    throw e;
                }
                Thread.sleep(200);
            }
        }
    }

    /**
     * Runs `checks` until they pass, for up to 30 s: state that a broker applies after answering
     * (a topic config change in Kafka's metadata log) may show a moment later. The last failure
     * propagates.
     */
    static void eventually(Attempt<?> checks) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            try {
                checks.get();
                return;
            } catch (Failed e) {
                if (System.nanoTime() - deadline > 0) {
                    throw e;
                }
                Thread.sleep(200);
            }
        }
    }

    /** A base timestamp ten minutes ago, so no broker rejects it as from the future. */
    static long pastBase() {
        return System.currentTimeMillis() - 600_000;
    }

    /**
     * Parses the command line and runs the named scenario from `scenarios`, printing the result
     * line on `out` (the real stdout: a driver may redirect System.out while tools run).
     */
    static void main(String client, String[] args, Map<String, String> versions,
            Map<String, Scenario> scenarios, PrintStream out) {
        String bootstrap = null;
        String scenario = null;
        String topic = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--versions" -> {
                    out.println("{\"client\":" + json(client) + ",\"versions\":" + json(versions) + "}");
                    out.flush();
                    return;
                }
                case "--bootstrap" -> bootstrap = args[++i];
                case "--scenario" -> scenario = args[++i];
                case "--topic" -> topic = args[++i];
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        Scenario fn = scenarios.get(scenario);
        long started = System.nanoTime();
        String result;
        String detail;
        if (fn == null) {
            result = "unsupported";
            detail = client + " has no driver for this scenario";
        } else {
            try {
                fn.run(bootstrap, topic);
                result = "pass";
                detail = "";
            } catch (Unsupported e) {
                result = "unsupported";
                detail = e.getMessage();
            } catch (Failed e) {
                result = "fail";
                detail = e.getMessage();
            } catch (Throwable e) {
                // A client error is a scenario failure, reported with its type and cause.
                e.printStackTrace();
                Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
                result = "fail";
                detail = cause.getClass().getSimpleName() + ": " + cause.getMessage();
            }
        }
        double seconds = Math.round((System.nanoTime() - started) / 1e7) / 100.0;
        out.println("{\"scenario\":" + json(scenario) + ",\"result\":" + json(result) + ",\"detail\":"
                + json(detail) + ",\"seconds\":" + seconds + "}");
        out.flush();
    }

    private static String json(Map<String, String> map) {
        StringBuilder sb = new StringBuilder("{");
        for (Map.Entry<String, String> e : map.entrySet()) {
            if (sb.length() > 1) {
                sb.append(',');
            }
            sb.append(json(e.getKey())).append(':').append(json(e.getValue()));
        }
        return sb.append('}').toString();
    }

    /** A JSON string literal (null for null). */
    static String json(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }
}
