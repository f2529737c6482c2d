package org.fslspark.runtime;

import org.apache.spark.SparkConf;

/**
 * ND4J's off-heap caps (JavaCPP's {@code maxbytes}: its buffers; {@code maxphysicalbytes}: the whole
 * process) for a JVM that runs in a container of {@code spark.<role>.memory + memoryOverhead}: the
 * process cap is the container, so JavaCPP frees or fails before YARN or Kubernetes would kill the
 * container, and ND4J's buffers get two thirds of the overhead (the rest is the JVM's own native
 * memory: metaspace, threads, libnd4j's code and arenas).
 */
public final class MemoryCaps {
    static final String MAX_BYTES = "org.bytedeco.javacpp.maxbytes";
    static final String MAX_PHYSICAL_BYTES = "org.bytedeco.javacpp.maxphysicalbytes";
    /** Spark's floor for a container's overhead (as spark.{driver,executor}.memoryOverhead defaults). */
    private static final long MIN_OVERHEAD_MB = 384;

    private MemoryCaps() {
    }

    /** This JVM's caps as set (by bin/fsl, spark-submit or {@link #forClusterDriver}), for messages. */
    public static String inEffect() {
        return "ND4J's buffers " + System.getProperty(MAX_BYTES, "JavaCPP's default") + ", the whole process "
                + System.getProperty(MAX_PHYSICAL_BYTES, "JavaCPP's default");
    }

    /** The caps of a role ("driver" or "executor") as megabytes: [maxbytes, maxphysicalbytes]. */
    static long[] megabytes(SparkConf conf, String role) {
        long heap = conf.getSizeAsMb("spark." + role + ".memory", "1g");
        String key = "spark." + role + ".memoryOverhead";
        long overhead = conf.contains(key) ? conf.getSizeAsMb(key)
                : Math.max(MIN_OVERHEAD_MB, (long) (conf.getDouble("spark." + role + ".memoryOverheadFactor", 0.10) * heap));
        return new long[]{overhead * 2 / 3, heap + overhead};
    }

    /** As JVM options, e.g. {@code -Dorg.bytedeco.javacpp.maxbytes=2048m -Dorg.bytedeco.javacpp.maxphysicalbytes=7168m}. */
    static String javaOptions(SparkConf conf, String role) {
        long[] mb = megabytes(conf, role);
        return "-D" + MAX_BYTES + "=" + mb[0] + "m -D" + MAX_PHYSICAL_BYTES + "=" + mb[1] + "m";
    }

    /**
     * The driver in YARN cluster mode runs in the application master's container: unless its JVM
     * options set them, the caps follow spark.driver.memory + memoryOverhead (which spark-submit
     * passes as system properties). Must run before ND4J loads: JavaCPP reads them once.
     */
    public static void forClusterDriver() {
        if (!"cluster".equals(System.getProperty("spark.submit.deployMode"))
                || !"yarn".equals(System.getProperty("spark.master")) || System.getProperty(MAX_PHYSICAL_BYTES) != null) {
            return;
        }
        long[] mb = megabytes(new SparkConf(), "driver");
        System.setProperty(MAX_BYTES, mb[0] + "m");
        System.setProperty(MAX_PHYSICAL_BYTES, mb[1] + "m");
    }
}
