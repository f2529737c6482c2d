package org.fslspark.runtime;

import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;
import org.fslspark.config.Experiment;

import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Builds the SparkSession of a run: Kryo with ND4J's registrator, and enough local slots for a barrier round. */
public final class Sparks {
    private static final Pattern LOCAL = Pattern.compile("local(\\[(\\*|\\d+)(,\\d+)?])?");

    private Sparks() {
    }

    /**
     * In local mode a barrier stage needs a slot per task (every client plus the server), so
     * local[*] or local[N] with too few threads is widened; tasks then share the cores.
     */
    static String master(String configured, int tasksPerRound) {
        Matcher m = LOCAL.matcher(configured);
        if (!m.matches()) {
            return configured;
        }
        int threads = m.group(2) == null ? 1 : m.group(2).equals("*")
                ? Runtime.getRuntime().availableProcessors() : Integer.parseInt(m.group(2));
        String retries = m.group(3) == null ? "" : m.group(3);
        return "local[" + Math.max(threads, tasksPerRound) + retries + "]";
    }

    /** Whether a master URL runs Spark inside this JVM (local, local[N], local[*], local[N,F]). */
    public static boolean isLocal(String master) {
        return LOCAL.matcher(master).matches();
    }

    /**
     * In local mode every task of a round runs in this JVM at once, and each ND4J op would otherwise use every core
     * (its own threads and OpenBLAS's): with more tasks than cores that oversubscribes the machine, and threads
     * spinning for each other cost more than they add (FSL-SAGE's alignment round with four aligners on two cores:
     * measured 23.8 s against 13.5 s with one thread per op). So each op gets the cores divided among the round's
     * tasks, at least one. Executors of a cluster keep ND4J's default: how many tasks share them is Spark's to plan.
     */
    static void shareLocalCores(String master, int tasksPerRound) {
        if (isLocal(master)) {
            int threads = Math.max(1, Runtime.getRuntime().availableProcessors() / tasksPerRound);
            org.nd4j.linalg.factory.Nd4j.getEnvironment().setMaxThreads(threads);
            org.nd4j.linalg.factory.Nd4j.factory().blas().setMaxThreads(threads);
        }
    }

    public static SparkSession session(Experiment e) {
        return SparkSession.builder().config(conf(e)).getOrCreate();
    }

    /** The session's settings: Spark's own sources (spark-submit's system properties), the experiment's spark.conf, the project's defaults. */
    static SparkConf conf(Experiment e) {
        SparkConf conf = new SparkConf()
                .setAppName("fsl-spark " + e.name())
                .set("spark.serializer", "org.apache.spark.serializer.KryoSerializer")
                .set("spark.kryo.registrator", KryoRegistration.class.getName())
                // Defaults only: a user's --conf (system properties under spark-submit) or spark.conf wins.
                .setIfMissing("spark.ui.enabled", "false")
                .setIfMissing("spark.sql.shuffle.partitions", "4");
        // Under spark-submit, its --master decides where the job runs.
        String submitted = System.getProperty("spark.master");
        String master = master(submitted != null ? submitted : e.spark().master(), e.institutes().size() + 1);
        conf.setMaster(master);
        if (master.startsWith("local")) {
            // Local runs stay on loopback: never bind Spark to the machine's external interface.
            conf.set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1");
        }
        for (Map.Entry<String, String> kv : e.spark().conf().entrySet()) {
            conf.set(kv.getKey(), kv.getValue());
        }
        requireNoDynamicAllocation(conf);
        if (!isLocal(master)) {
            cluster(conf, master, e);
        }
        return conf;
    }

    /**
     * A round's barrier stage needs its tasks' executors at once and for its whole length, which
     * dynamic allocation does not promise (Spark refuses such a stage, but only when a round starts);
     * every run keeps a fixed set of executors, so it is refused before anything starts.
     */
    static void requireNoDynamicAllocation(SparkConf conf) {
        if (conf.getBoolean("spark.dynamicAllocation.enabled", false)) {
            throw new IllegalArgumentException("spark.dynamicAllocation.enabled=true: fsl-spark's rounds run as barrier stages,"
                    + " which Spark cannot schedule under dynamic allocation; set spark.dynamicAllocation.enabled=false"
                    + " (jobs/submit and conf/spark/*.properties do) and size the run with spark.executor.instances");
        }
    }

    /**
     * Defaults for a cluster master, each only when not configured: the application's own classes
     * for the executors, the driver's choice of libnd4j build, and, with a test-bed, a locality wait
     * long enough that a site's tasks wait for its busy executors instead of going elsewhere (where
     * they would refuse to run) and a short wait for a barrier stage's slots.
     */
    static void cluster(SparkConf conf, String master, Experiment e) {
        if (!conf.contains("spark.jars") && !conf.contains("spark.executor.extraClassPath")) {
            // spark-submit sets spark.jars; a run from the build tree ships its jar, or puts its classes
            // directory on the executors' class path (they share this file system, as on the local test-bed).
            java.security.CodeSource source = Sparks.class.getProtectionDomain().getCodeSource();
            if (source != null && source.getLocation() != null && "file".equals(source.getLocation().getProtocol())) {
                java.io.File code = new java.io.File(java.net.URI.create(source.getLocation().toString()));
                conf.set(code.isDirectory() ? "spark.executor.extraClassPath" : "spark.jars", code.getAbsolutePath());
            }
        }
        // Project defaults go into defaultJavaOptions, before the user's extraJavaOptions (the later
        // -D wins, so the user's still do).
        String nd4j = System.getProperty("org.bytedeco.javacpp.platform.extension");
        if (nd4j != null && !conf.get("spark.executor.defaultJavaOptions", "").contains("javacpp.platform.extension")) {
            appendDefaultJavaOptions(conf, "-Dorg.bytedeco.javacpp.platform.extension=" + nd4j);
        }
        // A container manager kills an executor beyond memory + memoryOverhead: ND4J's caps follow them.
        if ((master.equals("yarn") || master.startsWith("k8s://"))
                && !conf.get("spark.executor.defaultJavaOptions", "").contains(MemoryCaps.MAX_PHYSICAL_BYTES)) {
            appendDefaultJavaOptions(conf, MemoryCaps.javaOptions(conf, "executor"));
        }
        if (master.startsWith("spark://") && conf.contains("spark.authenticate.secret.file")
                && !conf.contains("spark.authenticate.secret")) {
            // Spark reads the secret file only on YARN and Kubernetes; a standalone cluster's application
            // carries the secret in its conf (never passed to executors, which take their worker's).
            conf.setIfMissing("spark.authenticate", "true");
            conf.set("spark.authenticate.secret", secret(conf.get("spark.authenticate.secret.file")));
        }
        if (e.testbed().enabled()) {
            conf.setIfMissing("spark.locality.wait", LOCALITY_WAIT);
            // A barrier stage planned just before a site's executor was lost waits for slots that will not come
            // (Spark checks 40 times, 15 s apart); failing after about 15 s lets the driver rerun the round with the
            // sites that are there (fault.min-institutes) or with the site's new executor.
            conf.setIfMissing("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "5s");
            conf.setIfMissing("spark.scheduler.barrier.maxConcurrentTasksCheck.maxFailures", "3");
        }
        if (master.matches("spark://127(\\.\\d+){3}:\\d+")) {
            // A test-bed on loopback: the driver stays on loopback too.
            conf.setIfMissing("spark.driver.host", "127.0.0.1").setIfMissing("spark.driver.bindAddress", "127.0.0.1");
        }
    }

    private static void appendDefaultJavaOptions(SparkConf conf, String options) {
        String given = conf.get("spark.executor.defaultJavaOptions", "").trim();
        conf.set("spark.executor.defaultJavaOptions", given.isEmpty() ? options : given + " " + options);
    }

    private static String secret(String file) {
        try {
            return java.nio.file.Files.readString(java.nio.file.Path.of(file)).trim();
        } catch (java.io.IOException ex) {
            throw new IllegalArgumentException("spark.authenticate.secret.file = " + file + ": cannot read it: " + ex, ex);
        }
    }

    /** How long a site's task waits for its own executors before Spark would try elsewhere. */
    static final String LOCALITY_WAIT = "1h";
}
