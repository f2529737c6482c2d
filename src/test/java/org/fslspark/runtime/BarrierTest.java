package org.fslspark.runtime;

import org.apache.spark.BarrierTaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@link Barrier#allGather} gives every task every task's message in partition order, twice in a row, and leaves
 * no interrupt behind on the task's thread. It prints how long each gather took: Spark's own took a second or more.
 */
class BarrierTest {
    @Test
    void everyTaskGetsEveryMessageAndNoInterruptIsLeftBehind() {
        SparkSession spark = Fixtures.spark();
        try {
            JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            List<String> results = sc.parallelize(List.of(0, 1, 2), 3).rdd().barrier()
                    .mapPartitions(new GatherTwice(), false, scala.reflect.ClassTag$.MODULE$.apply(String.class)).toJavaRDD().collect();
            for (String r : results) {
                assertEquals("0:0,0:1,0:2;1:0,1:1,1:2;", r);
            }
            assertEquals(3, results.size());
        } finally {
            spark.stop();
        }
    }

    /** Each task gathers twice and reports what it got, and whether its thread is left interrupted. */
    private static final class GatherTwice extends scala.runtime.AbstractFunction1<scala.collection.Iterator<Integer>,
            scala.collection.Iterator<String>> implements java.io.Serializable {
        @Override
        public scala.collection.Iterator<String> apply(scala.collection.Iterator<Integer> ignored) {
            BarrierTaskContext ctx = BarrierTaskContext.get();
            StringBuilder out = new StringBuilder();
            for (int round = 0; round < 2; round++) {
                long start = System.nanoTime();
                String[] all = Barrier.allGather(ctx, round + ":" + ctx.partitionId());
                System.out.printf("task %d gather %d: %.1f ms%n", ctx.partitionId(), round, (System.nanoTime() - start) / 1e6);
                out.append(String.join(",", all)).append(Thread.currentThread().isInterrupted() ? " interrupted;" : ";");
            }
            return scala.collection.JavaConverters.asScalaIterator(List.of(out.toString()).iterator());
        }
    }
}
