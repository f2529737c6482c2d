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

    public static SparkSession session(Experiment e) {
        SparkConf conf = new SparkConf()
                .setAppName("fsl-spark " + e.name())
                .set("spark.serializer", "org.apache.spark.serializer.KryoSerializer")
                .set("spark.kryo.registrator", KryoRegistration.class.getName())
                .set("spark.ui.enabled", "false")
                .set("spark.sql.shuffle.partitions", "4");
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
        if (!isLocal(master)) {
            cluster(conf, master, e);
        }
        return SparkSession.builder().config(conf).getOrCreate();
    }

    /**
     * Defaults for a cluster master, each only when not configured: the application's own classes
     * for the executors, the driver's choice of libnd4j build, and, with a test-bed, a locality wait
     * long enough that a site's tasks wait for its busy executors instead of going elsewhere (where
     * they would refuse to run).
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
        String nd4j = System.getProperty("org.bytedeco.javacpp.platform.extension");
        if (nd4j != null && !conf.contains("spark.executor.extraJavaOptions")) {
            conf.set("spark.executor.extraJavaOptions", "-Dorg.bytedeco.javacpp.platform.extension=" + nd4j);
        }
        if (e.testbed().enabled()) {
            conf.setIfMissing("spark.locality.wait", LOCALITY_WAIT);
        }
        if (master.matches("spark://127(\\.\\d+){3}:\\d+")) {
            // A test-bed on loopback: the driver stays on loopback too.
            conf.setIfMissing("spark.driver.host", "127.0.0.1").setIfMissing("spark.driver.bindAddress", "127.0.0.1");
        }
    }

    /** How long a site's task waits for its own executors before Spark would try elsewhere. */
    static final String LOCALITY_WAIT = "1h";
}
