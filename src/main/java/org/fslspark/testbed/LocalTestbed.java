package org.fslspark.testbed;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The local multi-process test-bed of jobs/testbed (a standalone master and a worker per site on
 * loopback addresses), started and stopped from Java with a bounded wait for the script. Paths are
 * relative to the project's checkout, the working directory of {@code bin/fsl} and the tests.
 */
public final class LocalTestbed {
    public static final String SCRIPT = "jobs/testbed";
    static final long SCRIPT_TIMEOUT_SECONDS = 240;

    private LocalTestbed() {
    }

    /**
     * Starts the test-bed with its state in {@code dir}; everything stops by itself after
     * {@code ttlSeconds}. Returns the master URL. {@code options}: more of jobs/testbed's start options.
     */
    public static String start(Path dir, Path topology, long ttlSeconds, String... options) {
        List<String> args = new ArrayList<>(List.of("start", "--dir", dir.toString(), "--topology", topology.toString(),
                "--ttl", String.valueOf(ttlSeconds)));
        args.addAll(List.of(options));
        System.out.print(script(args.toArray(String[]::new)));
        try {
            return Files.readString(dir.resolve("master-url")).trim();
        } catch (IOException e) {
            throw new IllegalStateException("the test-bed started but wrote no master URL in " + dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * The overrides (for {@code --set}) that let an application join the test-bed in {@code dir}:
     * Spark's authentication with the test-bed's secret file, and its encryption; none when the
     * test-bed was started with {@code --insecure}.
     */
    public static List<String> sparkSettings(Path dir) {
        Path secret = dir.resolve("spark-secret").toAbsolutePath();
        if (!Files.isRegularFile(secret)) {
            return List.of();
        }
        return List.of("spark.conf.\"spark.authenticate\"=true", "spark.conf.\"spark.network.crypto.enabled\"=true",
                "spark.conf.\"spark.io.encryption.enabled\"=true",
                "spark.conf.\"spark.authenticate.secret.file\"=\"" + secret + "\"");
    }

    /** Stops what {@link #start} started in {@code dir}. */
    public static void stop(Path dir) {
        System.out.print(script("stop", "--dir", dir.toString()));
    }

    /** Stops site {@code site}'s worker and its executors, as if the site went away. */
    public static void stopSite(Path dir, String site) {
        System.out.print(script("stop-site", site, "--dir", dir.toString()));
    }

    /** Starts site {@code site}'s worker again; returns once it has registered with the master. */
    public static void startSite(Path dir, String site) {
        System.out.print(script("start-site", site, "--dir", dir.toString()));
    }

    /** Runs jobs/testbed with a bounded wait; returns its output, fails on a non-zero exit. */
    public static String script(String... args) {
        if (!new File(SCRIPT).canExecute()) {
            throw new IllegalStateException(SCRIPT + " is missing: run from the project's checkout");
        }
        List<String> command = new ArrayList<>(List.of(SCRIPT));
        command.addAll(List.of(args));
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            byte[] output;
            try {
                if (!p.waitFor(SCRIPT_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    throw new IllegalStateException(String.join(" ", command) + " took more than " + SCRIPT_TIMEOUT_SECONDS + " s");
                }
            } finally {
                output = p.getInputStream().readAllBytes();
            }
            String text = new String(output);
            if (p.exitValue() != 0) {
                throw new IllegalStateException(String.join(" ", command) + " failed (exit " + p.exitValue() + "):\n" + text);
            }
            return text;
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + String.join(" ", command) + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running " + String.join(" ", command), e);
        }
    }
}
