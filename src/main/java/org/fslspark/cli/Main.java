package org.fslspark.cli;

import org.fslspark.runtime.MemoryCaps;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code fsl} command. Exits explicitly: Spark's barrier mode leaves non-daemon threads behind. */
@Command(name = "fsl", mixinStandardHelpOptions = true, version = "fsl-spark 0.1.0",
        description = "Federated split learning across institutes on Apache Spark.",
        subcommands = {TrainCommand.class, PrepareCommand.class, GenerateCommand.class, BenchCommand.class, KeysCommand.class,
                TopologyCommand.class, PlanCutsCommand.class, ProbeCommand.class, SweepCommand.class, ProvisionCommand.class,
                CommandLine.HelpCommand.class})
public final class Main {
    public static void main(String[] args) {
        org.fslspark.runtime.MemoryCaps.forClusterDriver();
        if ("cluster".equals(System.getProperty("spark.submit.deployMode")) && "yarn".equals(System.getProperty("spark.master"))) {
            // The driver runs inside YARN's application master, which
            // reports the final status when main returns or throws and exits by itself; an exit here
            // would be reported as a failure. Elsewhere (a standalone cluster's DriverWrapper too) the
            // JVM must exit explicitly, or barrier mode's non-daemon threads keep it alive forever.
            int code = run(args);
            if (code != 0) {
                throw new IllegalStateException("fsl " + String.join(" ", args) + " failed with exit code " + code);
            }
            return;
        }
        int code = 1;
        try {
            code = run(args);
        } catch (Throwable t) {
            // Errors (e.g. a class missing from the classpath) bypass picocli's handler; still exit.
            t.printStackTrace();
        } finally {
            System.exit(code);
        }
    }

    /**
     * Runs a command as {@code fsl ARGS...} does, without exiting: 0 on success, 2 when the command failed (the
     * error is on standard error), picocli's usage code for a malformed command line. What {@link #main} wraps.
     */
    public static int run(String... args) {
        return commandLine().execute(args);
    }

    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            cmd.getErr().println("error: " + ex.getMessage());
            String hint = memoryHint(ex);
            if (!hint.isEmpty()) {
                cmd.getErr().println(hint);
            }
            if (System.getenv("FSL_DEBUG") != null) {
                ex.printStackTrace(cmd.getErr());
            }
            return 2;
        });
        return cl;
    }

    /**
     * What to change when JavaCPP refused an allocation at its caps (its message names totalBytes and
     * physicalBytes, and it reaches the user wrapped in Spark's errors); "" for any other error.
     */
    static String memoryHint(Throwable ex) {
        for (Throwable t = ex; t != null; t = t.getCause()) {
            String m = t.getMessage();
            if (m != null && m.contains("totalBytes") && m.contains("physicalBytes")) {
                return "hint: the process reached JavaCPP's memory caps (" + MemoryCaps.inEffect() + "): raise FSL_OFFHEAP or "
                        + "FSL_PHYSICAL for bin/fsl, spark.{driver,executor}.memoryOverhead on a cluster; a run continues "
                        + "from its newest round checkpoint with `fsl train --resume` (a sweep by running it again)";
            }
        }
        return "";
    }
}
