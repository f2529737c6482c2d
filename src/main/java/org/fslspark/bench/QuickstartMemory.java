package org.fslspark.bench;

import org.fslspark.runtime.MemoryCaps;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/**
 * Peak resident memory of a training run as the launcher starts it: in local mode the driver and
 * every task share one JVM, so the process's high-water mark (VmHWM) covers heap, ND4J's off-heap
 * buffers and native libraries of all of them. Prints figures, asserts nothing.
 */
@Command(name = "memory", mixinStandardHelpOptions = true,
        description = "Peak resident memory (driver and tasks, on- and off-heap) of `bin/fsl train` on a config.")
public final class QuickstartMemory implements Callable<Integer> {
    @Option(names = "--config", description = "Experiment to train (default: ${DEFAULT-VALUE}); prepare it first.")
    String config = "conf/quickstart.conf";
    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a config key (repeatable).")
    List<String> overrides = new ArrayList<>();
    @Option(names = "--fsl", description = "The launcher (default: ${DEFAULT-VALUE}).")
    String launcher = "bin/fsl";

    @Override
    public Integer call() throws Exception {
        Path out = Files.createTempDirectory("fsl-memory");
        List<String> command = new ArrayList<>(List.of(launcher, "train", config, "--out", out.resolve("run").toString()));
        for (String o : overrides) {
            command.add("--set");
            command.add(o);
        }
        Process p = new ProcessBuilder(command).inheritIO().start();
        long peakKiB = 0;
        // VmHWM is the process's own high-water mark; reading it until the process ends loses nothing.
        while (!p.waitFor(1, TimeUnit.SECONDS)) {
            peakKiB = Math.max(peakKiB, vmHwmKiB(p.pid()));
        }
        System.out.printf("%n%s exited %d; peak resident memory (VmHWM of the training JVM, driver and tasks, "
                        + "heap and off-heap): %.0f MiB%nLimits from the launcher (the same for this JVM and the training one): heap %s, "
                        + "%s (FSL_HEAP, FSL_OFFHEAP, FSL_PHYSICAL)%n", String.join(" ", command), p.exitValue(),
                peakKiB / 1024.0, env("FSL_HEAP", "2g"), MemoryCaps.inEffect());
        return p.exitValue();
    }

    private static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null ? fallback + " (default)" : v;
    }

    /** The launcher execs java, so the pid is the JVM's; 0 once it is gone. */
    private static long vmHwmKiB(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | RuntimeException gone) {
            return 0;
        }
        return 0;
    }
}
