package compat;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.common.utils.Exit;

/**
 * Runs Apache Kafka's command-line tools in this JVM by calling their main classes, one JVM per
 * scenario instead of one per tool. Kafka's tools end through {@link Exit}, whose procedure is
 * replaced by one that throws, and print on System.out/err, which are replaced by streams that
 * write to the buffer of the calling thread (threads a tool starts inherit it), so tools can run
 * concurrently from different threads.
 */
final class Tools {
    /** What one tool run printed and the code it exited with (0 when its main returned). */
    record Result(int code, String out, String err) {
        /** Fails the scenario unless the tool exited 0. */
        Result ok(String what) {
            Driver.check(code == 0, what + " exited " + code + ": " + tail(err.isBlank() ? out : err));
            return this;
        }
    }

    /** Thrown by the replaced exit procedure; carries the tool's exit code out of its main. */
    private static final class ToolExit extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final int code;

        ToolExit(int code) {
            super("exit " + code, null, false, false);
            this.code = code;
        }
    }

    /** The buffer a thread's (and its children's) tool output goes to; null: the real stream. */
    private static final InheritableThreadLocal<ByteArrayOutputStream> OUT = new InheritableThreadLocal<>();
    private static final InheritableThreadLocal<ByteArrayOutputStream> ERR = new InheritableThreadLocal<>();
    private static final int NO_EXIT = Integer.MIN_VALUE;
    /** The first exit code of the running tool, NO_EXIT while it did not exit. */
    private static final InheritableThreadLocal<AtomicInteger> EXIT = new InheritableThreadLocal<>();
    /** The shutdown hooks the running tool registered. */
    private static final InheritableThreadLocal<List<Runnable>> HOOKS = new InheritableThreadLocal<>();
    /** The process's real stdout, for the result line. */
    static final PrintStream REAL_OUT = System.out;
    /** The process's real stderr: with COMPAT_DEBUG set, every tool run is logged there. */
    private static final PrintStream REAL_ERR = System.err;

    private Tools() {}

    /** Routes System.out/err and Kafka's exit; must run before any tool class is loaded. */
    static void install() {
        System.setOut(new PrintStream(new Switch(OUT, System.out), true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(new Switch(ERR, System.err), true, StandardCharsets.UTF_8));
        Exit.setExitProcedure(Tools::exit);
        Exit.setHaltProcedure(Tools::exit);
        // A tool's shutdown hooks (the console producer flushes in one) run when its run ends,
        // as they would when its own JVM exits.
        Exit.setShutdownHookAdder((name, hook) -> {
            List<Runnable> hooks = HOOKS.get();
            if (hooks != null) {
                hooks.add(hook);
            }
        });
    }

    /**
     * Ends the calling tool's run: the first exit of a run is its exit code (a real exit would
     * have ended the JVM there, but a tool may catch the exception and exit again).
     */
    private static void exit(int code, String message) {
        AtomicInteger first = EXIT.get();
        if (first != null) {
            first.compareAndSet(NO_EXIT, code);
        }
        throw new ToolExit(code);
    }

    /** Runs `mainClass` with `args` and no input. */
    static Result run(String mainClass, String... args) {
        return runWithInput(mainClass, "", args);
    }

    /** A tool running on its own thread (see {@link #start}). */
    static final class Running {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        private final ByteArrayOutputStream err = new ByteArrayOutputStream();
        private final List<Runnable> hooks = Collections.synchronizedList(new ArrayList<>());
        /** Completes with the tool's result once it ended. */
        final CompletableFuture<Result> result = new CompletableFuture<>();

        /** What the tool printed on stdout so far. */
        String outSoFar() {
            return out.toString(StandardCharsets.UTF_8);
        }

        /**
         * Stops the tool as a SIGTERM would: runs the shutdown hooks it registered (the console
         * consumer's wakes its consumer up, which then leaves its group and closes), then waits
         * for it to end.
         */
        Result stop() throws Exception {
            List<Runnable> now;
            synchronized (hooks) {
                now = List.copyOf(hooks);
                hooks.clear();
            }
            runHooks(now, err);
            return result.get(Driver.WAIT.toSeconds(), TimeUnit.SECONDS);
        }
    }

    /** Starts `mainClass` with `args` on a new thread, without input. */
    static Running start(String mainClass, String... args) {
        Running r = new Running();
        Thread t = new Thread(() -> {
            try {
                r.result.complete(execute(mainClass, "", args, r.out, r.err, r.hooks));
            } catch (RuntimeException | Error e) {
                r.result.completeExceptionally(e);
            }
        }, "tool-" + mainClass);
        t.setDaemon(true);
        t.start();
        return r;
    }

    /** Runs `mainClass` with `args`, `stdin` as its standard input. */
    static Result runWithInput(String mainClass, String stdin, String... args) {
        return execute(mainClass, stdin, args, new ByteArrayOutputStream(), new ByteArrayOutputStream(),
                Collections.synchronizedList(new ArrayList<>()));
    }

    private static Result execute(String mainClass, String stdin, String[] args, ByteArrayOutputStream out,
            ByteArrayOutputStream err, List<Runnable> hooks) {
        long startedAt = System.currentTimeMillis();
        OUT.set(out);
        ERR.set(err);
        HOOKS.set(hooks);
        AtomicInteger firstExit = new AtomicInteger(NO_EXIT);
        EXIT.set(firstExit);
        int code = 0;
        synchronized (Tools.class) {
            // Only console producers read stdin, and they run one at a time.
            System.setIn(new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)));
        }
        try {
            Class.forName(mainClass).getMethod("main", String[].class).invoke(null, (Object) args);
        } catch (InvocationTargetException e) {
            code = exitCode(e.getCause(), err);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("no tool main class " + mainClass, e);
        } finally {
            List<Runnable> left;
            synchronized (hooks) {
                left = List.copyOf(hooks);
                hooks.clear();
            }
            runHooks(left, err);
            System.out.flush();
            System.err.flush();
            OUT.remove();
            ERR.remove();
            HOOKS.remove();
            EXIT.remove();
        }
        if (firstExit.get() != NO_EXIT) {
            code = firstExit.get();
        }
        Result r = new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        if (System.getenv("COMPAT_DEBUG") != null) {
            REAL_ERR.println("== " + mainClass + " " + String.join(" ", args) + " -> exit " + code + " ("
                    + startedAt + " .. " + System.currentTimeMillis() + ")\n-- out:\n"
                    + r.out + "-- err:\n" + r.err);
        }
        return r;
    }

    private static void runHooks(List<Runnable> hooks, ByteArrayOutputStream err) {
        for (Runnable hook : hooks) {
            Thread t = new Thread(hook, "tool-shutdown-hook");
            t.setDaemon(true);
            t.start();
            try {
                t.join(Driver.WAIT.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            if (t.isAlive()) {
                err.writeBytes("a shutdown hook did not finish within 30 s\n".getBytes(StandardCharsets.UTF_8));
            }
        }
    }

    private static int exitCode(Throwable t, ByteArrayOutputStream err) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof ToolExit exit) {
                return exit.code;
            }
        }
        // A tool that died of an exception: record it as its error output, exit code 1.
        PrintStream p = new PrintStream(err, true, StandardCharsets.UTF_8);
        t.printStackTrace(p);
        return 1;
    }

    /** The last line or so of a tool's output, for a failure's detail. */
    static String tail(String s) {
        String t = s.strip();
        String[] lines = t.split("\n");
        String last = lines.length == 0 ? "" : lines[lines.length - 1];
        for (String l : lines) {
            if (l.contains("Exception") || l.contains("ERROR") || l.startsWith("Error")) {
                last = l;
                break;
            }
        }
        return last.length() > 300 ? last.substring(0, 300) : last;
    }

    /** An OutputStream that writes to the calling thread's buffer, or to `real` when it has none. */
    private static final class Switch extends OutputStream {
        private final InheritableThreadLocal<ByteArrayOutputStream> target;
        private final OutputStream real;

        Switch(InheritableThreadLocal<ByteArrayOutputStream> target, OutputStream real) {
            this.target = target;
            this.real = real;
        }

        private OutputStream current() {
            ByteArrayOutputStream b = target.get();
            return b != null ? b : real;
        }

        @Override
        public void write(int b) throws IOException {
            current().write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            current().write(b, off, len);
        }

        @Override
        public void flush() throws IOException {
            current().flush();
        }
    }

}
