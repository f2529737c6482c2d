package org.fslspark.runtime;

import org.apache.spark.SparkConf;
import org.fslspark.config.Experiment;
import org.fslspark.config.ExperimentLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The SparkConf a run starts with: the user's settings win, the project's fill in, unsafe ones are refused. */
class SparksConfTest {
    private static Experiment experiment(String master, String... sparkConf) {
        List<String> keys = new ArrayList<>(List.of("spark.master=\"" + master + "\""));
        for (String kv : sparkConf) {
            int eq = kv.indexOf('=');
            keys.add("spark.conf.\"" + kv.substring(0, eq) + "\"=\"" + kv.substring(eq + 1) + "\"");
        }
        return ExperimentLoader.load((java.io.File) null, keys);
    }

    @Test
    void aSubmittedConfWinsOverTheProjectsDefaults() {
        // spark-submit hands its --conf to the driver as system properties.
        System.setProperty("spark.sql.shuffle.partitions", "7");
        System.setProperty("spark.ui.enabled", "true");
        try {
            SparkConf conf = Sparks.conf(experiment("local[2]"));
            assertEquals("7", conf.get("spark.sql.shuffle.partitions"));
            assertEquals("true", conf.get("spark.ui.enabled"));
        } finally {
            System.clearProperty("spark.sql.shuffle.partitions");
            System.clearProperty("spark.ui.enabled");
        }
        SparkConf defaults = Sparks.conf(experiment("local[2]"));
        assertEquals("4", defaults.get("spark.sql.shuffle.partitions"));
        assertEquals("false", defaults.get("spark.ui.enabled"));
    }

    @Test
    void dynamicAllocationIsRefusedBeforeAnythingStarts() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Sparks.conf(experiment("yarn", "spark.dynamicAllocation.enabled=true")));
        assertTrue(e.getMessage().startsWith("spark.dynamicAllocation.enabled=true: fsl-spark's rounds run as barrier stages,"
                + " which Spark cannot schedule under dynamic allocation; set spark.dynamicAllocation.enabled=false"), e.getMessage());
    }

    /** 4g + 3g: a 7 GiB container, two thirds of the overhead for ND4J; 1g alone: Spark's 384 MiB overhead floor. */
    @Test
    void executorMemoryCapsFollowTheContainerAndLeaveTheUsersOptions() {
        SparkConf conf = Sparks.conf(experiment("yarn", "spark.executor.memory=4g", "spark.executor.memoryOverhead=3g",
                "spark.executor.extraJavaOptions=-Duser.flag=1", "spark.executor.defaultJavaOptions=-Dproject.flag=2"));
        String defaults = conf.get("spark.executor.defaultJavaOptions");
        assertTrue(defaults.startsWith("-Dproject.flag=2 "), defaults);
        assertTrue(defaults.contains("-Dorg.bytedeco.javacpp.maxbytes=2048m -Dorg.bytedeco.javacpp.maxphysicalbytes=7168m"), defaults);
        assertEquals("-Duser.flag=1", conf.get("spark.executor.extraJavaOptions"));
        String small = Sparks.conf(experiment("k8s://https://127.0.0.1:6443")).get("spark.executor.defaultJavaOptions");
        assertTrue(small.contains("-Dorg.bytedeco.javacpp.maxbytes=256m -Dorg.bytedeco.javacpp.maxphysicalbytes=1408m"), small);
        // A standalone worker enforces no container: JavaCPP's own defaults (from the heap) stay.
        assertFalse(Sparks.conf(experiment("spark://127.0.0.1:7077")).get("spark.executor.defaultJavaOptions", "")
                .contains("maxphysicalbytes"));
    }

    @Test
    void aStandaloneApplicationCarriesTheSecretOfItsFile(@TempDir Path dir) throws Exception {
        Path secret = dir.resolve("spark-secret");
        Files.writeString(secret, "abc123\n");
        SparkConf conf = Sparks.conf(experiment("spark://127.0.0.1:7077", "spark.authenticate.secret.file=" + secret));
        assertEquals("abc123", conf.get("spark.authenticate.secret"));
        assertEquals("true", conf.get("spark.authenticate"));
    }
}
