package org.fslspark.runtime;

import org.apache.spark.SparkConf;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.fslspark.testbed.LocalTestbed;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction1;

import java.io.File;
import java.io.Reader;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * GPUs on a standalone cluster, emulated: the local test-bed's workers start with resources files
 * naming GPU addresses 0 and 1 (jobs/testbed --gpus 2), an application with
 * conf/spark/gpu-standalone.properties gets an executor per core, each with a GPU of its own, and
 * every task, once it has passed the placement check all of a run's tasks start with, has ND4J told
 * that GPU's device (recorded only: a CPU build binds nothing).
 */
class EmulatedGpusTest {
    @TempDir
    Path dir;

    /** What a task saw. */
    record Seen(String executor, String host, String site, List<String> addresses, GpuBinding.Bound bound) implements Serializable {
    }

    /** A task: passes the placement check every task of a run starts with (which binds its GPU), says what it saw. */
    static final class Look extends AbstractFunction1<scala.collection.Iterator<Integer>, scala.collection.Iterator<Seen>>
            implements Serializable {
        @Override
        public scala.collection.Iterator<Seen> apply(scala.collection.Iterator<Integer> ignored) {
            String site = Placement.executorSite();
            Placement.requireSite(site);
            Seen seen = new Seen(SparkEnv.get().executorId(), SparkEnv.get().blockManager().blockManagerId().host(), site,
                    Arrays.asList(TaskContext.get().resources().get("gpu").get().addresses()), GpuBinding.current());
            return scala.collection.Iterator$.MODULE$.single(seen);
        }
    }

    @Test
    void executorsGetDistinctGpusAndEachTaskIsBoundToItsOwn() throws Exception {
        Path topology = dir.resolve("two-sites.conf");
        Files.writeString(topology, """
                server-site = a
                sites {
                  a { executors.hosts = ["127.0.0.2"] }
                  b { executors.hosts = ["127.0.0.3"] }
                }
                links { a { rtt = 1 ms, throughput-mbps = 1000 }, b { rtt = 1 ms, throughput-mbps = 1000 } }
                """);
        Path state = dir.resolve("testbed");
        SparkSession spark = null;
        long t0 = System.nanoTime();
        try {
            // Site a's worker has 2 cores, b's 1: three executors of one core.
            String master = LocalTestbed.start(state, topology, 600, "--gpus", "2", "--insecure", "--worker-memory", "1g");
            SparkConf conf = new SparkConf().setMaster(master).setAppName("emulated GPUs")
                    .set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1")
                    .set("spark.ui.enabled", "false").set("spark.executor.memory", "512m")
                    .set("spark.executor.extraClassPath", new File("target/classes").getAbsolutePath() + File.pathSeparator
                            + new File("target/test-classes").getAbsolutePath());
            Properties overlay = new Properties();
            try (Reader r = Files.newBufferedReader(Path.of("conf/spark/gpu-standalone.properties"))) {
                overlay.load(r);
            }
            overlay.forEach((k, v) -> conf.set((String) k, ((String) v).trim()));
            conf.set("spark.executor.cores", "1"); // the test-bed's workers are small
            spark = SparkSession.builder().config(conf).getOrCreate();
            long started = System.nanoTime();
            JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            long deadline = System.nanoTime() + 120_000_000_000L;
            while (sc.sc().statusTracker().getExecutorInfos().length < 4 && System.nanoTime() < deadline) {
                Thread.sleep(200);
            }
            // A barrier stage runs its three tasks at once, so each executor runs one.
            Object collected = sc.parallelize(List.of(1, 2, 3), 3).rdd().barrier()
                    .mapPartitions(new Look(), false, ClassTag$.MODULE$.apply(Seen.class)).collect();
            List<Seen> seen = Arrays.asList((Seen[]) collected);
            System.out.printf("test-bed up in %.1f s, executors up and the job done in %.1f s%n", (started - t0) / 1e9,
                    (System.nanoTime() - started) / 1e9);

            System.out.println("tasks saw: " + seen);
            assertEquals(3, seen.stream().map(Seen::executor).distinct().count(), seen.toString());
            for (Seen s : seen) {
                assertEquals(1, s.addresses().size(), s.toString());
                assertEquals(s.addresses().get(0), s.bound().address(), s.toString());
                assertEquals(Integer.parseInt(s.addresses().get(0)), s.bound().device(), s.toString());
                assertFalse(s.bound().applied(), "a CPU build binds no device");
            }
            // Executors on one node (here: one worker) never share a GPU.
            Map<String, List<String>> byHost = seen.stream().collect(Collectors.groupingBy(Seen::host,
                    Collectors.mapping(s -> s.addresses().get(0), Collectors.toList())));
            assertEquals(Set.of("0", "1"), new HashSet<>(byHost.get("127.0.0.2")), byHost.toString());
            assertEquals(1, byHost.get("127.0.0.3").size(), byHost.toString());
            assertTrue(seen.stream().allMatch(s -> s.site().equals(s.host().equals("127.0.0.2") ? "a" : "b")), seen.toString());
        } finally {
            if (spark != null) {
                spark.stop();
            }
            LocalTestbed.stop(state);
        }
    }
}
