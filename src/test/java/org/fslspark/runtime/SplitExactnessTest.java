package org.fslspark.runtime;

import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import org.fslspark.algorithm.Batch;
import org.fslspark.config.Experiment;
import org.fslspark.model.CrossEntropy;
import org.fslspark.model.ModelZoo;
import org.fslspark.model.Network;
import org.fslspark.model.Optimizer;
import org.fslspark.model.SplitModel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The oracle of split training: through the real runtime (Spark barrier stage, TCP channel,
 * frames), one SplitFed-V2 client trained on 20 minibatches ends with exactly the parameters of the
 * unsplit network trained on the same minibatches with the same optimizer.
 */
class SplitExactnessTest {
    static SparkSession spark;

    @BeforeAll
    static void start() {
        spark = Fixtures.spark();
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    /** fmnist_cnn, and resnet20 with batch norm in training mode: its running statistics are in the vectors compared. */
    @ParameterizedTest
    @CsvSource({"fmnist_cnn, 32", "resnet20, 8"})
    void splitTrainingEqualsUnsplitTraining(String modelName, int batch, @TempDir java.nio.file.Path dir) {
        Experiment e = Fixtures.experiment(dir, "institutes=[osu]", "algorithm=splitfed-v2", "model.name=" + modelName, "train.rounds=1",
                "train.batch-size=" + batch, "data.train-subset=" + (20 * batch), "data.partition.scheme=iid",
                "train.server-order=client-by-client");
        Fixtures.prepare(e);
        FederatedTraining.Summary s = FederatedTraining.run(e, spark, true, r -> { });

        Network full = ModelZoo.full(e.model(), e.seed());
        Optimizer optimizer = new Optimizer(e.train().optimizer().toUpdater(), full.numParams());
        SiteData data = SiteData.read(Map.of(), e.data().locationOf("osu"), "osu");
        int[][] batches = data.epoch(batch, ClientWork.batchOrder(e.seed(), 0, 0, 0));
        assertEquals(20, batches.length);
        for (int[] indices : batches) {
            Batch b = data.batch(indices);
            full.backward(CrossEntropy.evaluate(full.forward(b.features()), b.labels(), true).gradient());
            optimizer.step(full);
        }
        INDArray split = Nd4j.hstack(s.clientParams(), s.serverParams());
        assertArrayEquals(full.params().toFloatVector(), split.toFloatVector(), 1e-6f);
        // And training moved the parameters: equality is not that of two untouched models.
        INDArray initial = ModelZoo.full(e.model(), e.seed()).params();
        assertEquals(false, initial.equalsWithEps(split, 1e-3));
        assertEquals(List.of(0), s.rounds().stream().map(r -> r.round()).toList());
    }

    /**
     * The FSL-SAGE oracle diagnostic: the client follows the server's exact gradient on every
     * minibatch while the server steps only on every q-th, checked against the two parts trained
     * by hand on the same minibatches.
     */
    @Test
    void fslSageOracleStepsTheServerEveryQthBatch(@TempDir java.nio.file.Path dir) {
        int batch = 32;
        int q = 3;
        Experiment e = Fixtures.experiment(dir, "institutes=[osu]", "algorithm=fsl-sage-oracle", "train.rounds=1",
                "train.batch-size=" + batch, "data.train-subset=" + (10 * batch), "data.partition.scheme=iid",
                "server-interval=" + q);
        Fixtures.prepare(e);
        FederatedTraining.Summary s = FederatedTraining.run(e, spark, true, r -> { });

        SplitModel model = ModelZoo.split(e.model(), e.seed());
        Optimizer clientOptimizer = new Optimizer(e.train().optimizer().toUpdater(), model.client());
        Optimizer serverOptimizer = new Optimizer(e.train().serverOptimizer().toUpdater(), model.server());
        SiteData data = SiteData.read(Map.of(), e.data().locationOf("osu"), "osu");
        int[][] batches = data.epoch(batch, ClientWork.batchOrder(e.seed(), 0, 0, 0));
        for (int k = 0; k < batches.length; k++) {
            Batch b = data.batch(batches[k]);
            INDArray z = model.client().forward(b.features());
            INDArray g = model.server().backward(CrossEntropy.evaluate(model.server().forward(z), b.labels(), true).gradient());
            if (k % q == 0) {
                serverOptimizer.step(model.server());
            } else {
                model.server().zeroGrads();
            }
            model.client().backward(g);
            clientOptimizer.step(model.client());
        }
        assertArrayEquals(model.client().params().toFloatVector(), s.clientParams().toFloatVector(), 1e-6f);
        assertArrayEquals(model.server().params().toFloatVector(), s.serverParams().toFloatVector(), 1e-6f);
        assertEquals(4, serverOptimizer.iterations());
    }
}
