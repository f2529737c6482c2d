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
        String master = master(e.spark().master(), e.institutes().size() + 1);
        conf.setMaster(master);
        if (master.startsWith("local")) {
            // Local runs stay on loopback: never bind Spark to the machine's external interface.
            conf.set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1");
        }
        for (Map.Entry<String, String> kv : e.spark().conf().entrySet()) {
            conf.set(kv.getKey(), kv.getValue());
        }
        return SparkSession.builder().config(conf).getOrCreate();
    }
}
