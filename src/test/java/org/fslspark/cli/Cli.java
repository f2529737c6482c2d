package org.fslspark.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** Runs {@code fsl} in-process as a user does ({@link Main#run}), capturing what it prints. */
public final class Cli {
    private Cli() {
    }

    /** The exit code and what the command printed to standard output and standard error. */
    public record Result(int code, String out, String err) {
        /** Fails with both streams when the command did not succeed. */
        public Result ok() {
            if (code != 0) {
                throw new AssertionError("exit code " + code + "\nstdout:\n" + out + "\nstderr:\n" + err);
            }
            return this;
        }
    }

    public static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        int code;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            code = Main.run(args);
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
}
