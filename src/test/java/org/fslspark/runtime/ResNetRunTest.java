package org.fslspark.runtime;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.fslspark.config.Experiment;
import org.fslspark.data.Samples;
import org.fslspark.model.CrossEntropy;
import org.fslspark.model.ModelZoo;
import org.fslspark.model.SplitModel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * resnet20 (batch norm, residual blocks, the default cut after stage 1) through the real runtime for one
 * round, with SplitFed-V2, FSL-SAGE (linear auxiliary head on pooled features) and CSE-FSL (MLP head, at
 * model.width 8): the global client part comes back with averaged running statistics that moved, and the reported
 * test loss is the evaluation-mode loss of the global model (running statistics, not the test batch's).
 */
class ResNetRunTest {
    static SparkSession spark;

    @BeforeAll
    static void start() {
        spark = Fixtures.spark();
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    @ParameterizedTest(name = "{0} {1} width {2}")
    @CsvSource({"splitfed-v2, linear, 16", "fsl-sage, linear, 16", "cse-fsl, mlp, 8"})
    void oneRoundOfResnet20(String algorithm, String auxiliary, int width, @org.junit.jupiter.api.io.TempDir Path dir)
            throws Exception {
        Experiment e = Fixtures.experiment(dir, "institutes=[osu, utaustin]", "algorithm=" + algorithm, "model.name=resnet20",
                "model.width=" + width,
                "train.rounds=1", "train.batch-size=16", "data.train-subset=64", "data.partition.scheme=iid",
                "server-interval=2", "alignment.epochs=2", "auxiliary.model=" + auxiliary, "auxiliary.hidden=32",
                Fixtures.smallTestSet(dir.resolve("test"), 50));
        Fixtures.prepare(e);
        FederatedTraining.Summary s = FederatedTraining.run(e, spark, true, r -> { });
        assertEquals(1, s.rounds().size());

        // The stem's running mean (after its width x 1 x 3 x 3 weights, gamma and beta) left its initial 0.
        double[] runningMean = s.clientParams().reshape(1, s.clientParams().length())
                .get(NDArrayIndex.point(0), NDArrayIndex.interval(11 * width, 12 * width)).toDoubleVector();
        assertTrue(Arrays.stream(runningMean).anyMatch(v -> Math.abs(v) > 1e-4), Arrays.toString(runningMean));

        SplitModel model = ModelZoo.split(e.model(), e.seed());
        model.client().setParams(s.clientParams());
        model.server().setParams(s.serverParams());
        Samples test = SiteData.readTest(new Configuration(), e.data().testLocation());
        int[] all = new int[test.size()];
        Arrays.setAll(all, i -> i);
        INDArray logits = model.server().predict(model.client().predict(test.features(all)));
        double loss = CrossEntropy.evaluate(logits, test.labels(all), false).meanLoss();
        assertEquals(loss, s.rounds().get(0).testLoss(), 1e-4);
        INDArray trainingMode = model.server().forward(model.client().forward(test.features(all)));
        assertTrue(Math.abs(CrossEntropy.evaluate(trainingMode, test.labels(all), false).meanLoss() - loss) > 1e-3,
                "batch statistics would give another loss");
    }
}
