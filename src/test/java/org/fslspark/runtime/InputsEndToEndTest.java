package org.fslspark.runtime;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.fslspark.config.Experiment;
import org.fslspark.config.ExperimentLoader;
import org.fslspark.data.CifarReader;
import org.fslspark.data.LabeledImages;
import org.fslspark.data.ParquetImages;
import org.fslspark.data.SyntheticText;
import org.fslspark.data.TestData;
import org.fslspark.model.Checkpoint;
import org.fslspark.model.ModelZoo;
import org.fslspark.model.SplitModel;
import org.fslspark.text.TinyTokenizerJson;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The sources a config can name, each as a user runs it: the experiment's keys, prepare, one round of
 * SplitFed-V2 and the checkpoint. A CIFAR binary source (3 x 32 x 32 images), a Parquet source, and
 * text cut by a Hugging Face {@code tokenizer.json} whose copy the checkpoint keeps.
 */
class InputsEndToEndTest {
    static SparkSession spark;
    @TempDir
    static Path dir;

    @BeforeAll
    static void start() {
        spark = Fixtures.spark();
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    /** quickstart.conf for two institutes, one round of SplitFed-V2, with {@code more}; data and output under {@code name}. */
    static Experiment experiment(String name, String... more) {
        List<String> o = new ArrayList<>(List.of("institutes=[osu, iitb]", "algorithm=splitfed-v2", "train.rounds=1",
                "train.batch-size=20", "data.train-subset=0", "data.partition.scheme=iid",
                "data.location=\"" + dir.resolve(name + "/data") + "\"", "output=\"" + dir.resolve(name + "/out") + "\""));
        o.addAll(List.of(more));
        return ExperimentLoader.load(new File("conf/quickstart.conf"), o);
    }

    /** Prepares and trains; checks that the activations went up in the cut shape the input gives. */
    static FederatedTraining.Summary prepareAndTrain(Experiment e, int samples) {
        PrepareJob.run(e, true, null);
        FederatedTraining.Summary s = FederatedTraining.run(e, spark, true, r -> { });
        assertEquals(1, s.rounds().size());
        assertTrue(s.last().testAccuracy() >= 0 && s.last().testAccuracy() <= 1, s.last().toString());
        SplitModel m = ModelZoo.split(e.model(), e.seed());
        long activations = s.last().payloadBytesUp() - 2 * m.client().numParams() * 4; // each client's model goes up once
        long perSample = java.util.Arrays.stream(m.cutShape()).reduce(1, (a, b) -> a * b);
        assertEquals((long) samples * perSample * 4, activations, "activation bytes of " + samples + " samples");
        return s;
    }

    @Test
    void aCifarSourceTrains() {
        LabeledImages train = TestData.images(200, 3, 32, 32, 10, 1);
        LabeledImages test = TestData.images(60, 3, 32, 32, 10, 2);
        Path trainFile = TestData.write(dir.resolve("cifar/data_batch_1.bin"), TestData.cifar(train, CifarReader.Variant.CIFAR_10, 0));
        Path testFile = TestData.write(dir.resolve("cifar/test_batch.bin"), TestData.cifar(test, CifarReader.Variant.CIFAR_10, 0));
        Experiment e = experiment("cifar", "data.dataset=cifar10", "data.format=cifar", "data.input-shape=[3, 32, 32]",
                "data.classes=10", "data.train=[\"" + trainFile + "\"]", "data.test=[\"" + testFile + "\"]");
        prepareAndTrain(e, 200);
    }

    @Test
    void aParquetSourceTrains() throws Exception {
        LabeledImages train = TestData.images(180, 1, 28, 28, 10, 3);
        LabeledImages test = TestData.images(60, 1, 28, 28, 10, 4);
        Configuration conf = new Configuration();
        org.apache.hadoop.fs.Path trainFile = new org.apache.hadoop.fs.Path(dir.resolve("parquet/train/part-00000.parquet").toString());
        org.apache.hadoop.fs.Path testFile = new org.apache.hadoop.fs.Path(dir.resolve("parquet/test.parquet").toString());
        Files.createDirectories(dir.resolve("parquet/train"));
        ParquetImages.write(conf, trainFile, train, ParquetImages.metadata(train, "synthetic", null), null, null);
        ParquetImages.write(conf, testFile, test, ParquetImages.metadata(test, "synthetic", null), null, null);
        Experiment e = experiment("parquet", "data.dataset=synthetic", "data.format=parquet",
                "data.train=[\"" + dir.resolve("parquet/train") + "\"]", "data.test=[\"" + testFile + "\"]");
        prepareAndTrain(e, 180);
    }

    @Test
    void aTokenizerJsonCutsTheTextAndTravelsWithTheCheckpoint() throws Exception {
        Path tokenizer = TinyTokenizerJson.write(dir.resolve("text/tokenizer.json"));
        SyntheticText.writeFiles(dir.resolve("text/corpus"), SyntheticText.documents(20, 12, 2, 5));
        Experiment e = experiment("text", "data.dataset=synthetic", "data.format=text", "model.name=gpt",
                "data.train=[\"" + dir.resolve("text/corpus") + "\"]", "data.test=[]", "data.tokenizer=\"" + tokenizer + "\"",
                "data.context=16", "data.test-fraction=0.2", "model.width=16", "model.depth=2", "model.heads=2", "model.cut=1",
                "train.eval-batch-size=32");
        assertEquals(TinyTokenizerJson.VOCAB_SIZE, e.model().classes(), "the vocabulary comes from the tokenizer");
        PrepareJob.run(e, true, null);
        FederatedTraining.Summary s = FederatedTraining.run(e, spark, true, r -> { });
        assertTrue(Double.isFinite(s.last().testLoss()), s.last().toString());

        Path model = dir.resolve("text/out/model");
        assertEquals(Files.readString(tokenizer), Files.readString(model.resolve(Checkpoint.TOKENIZER)),
                "the checkpoint keeps a copy of the tokenizer.json");
        Checkpoint c = Checkpoint.read(model.toString(), new Configuration());
        assertEquals(TinyTokenizerJson.VOCAB_SIZE, c.spec().classes());
        assertArrayEquals(new int[]{TinyTokenizerJson.THE}, c.loadTokenizer().encode("the"), "the checkpoint's tokenizer is the file's");
        // A model.init from this checkpoint must name the same tokenizer: byte-level text is refused.
        Experiment byteLevel = experiment("text", "data.dataset=synthetic", "data.format=text", "model.name=gpt",
                "data.train=[\"" + dir.resolve("text/corpus") + "\"]", "data.test=[]", "data.tokenizer=byte",
                "data.context=16", "model.width=16", "model.depth=2", "model.heads=2", "model.cut=1",
                "model.init=\"" + model + "\"", "output=\"" + dir.resolve("text/out-byte") + "\"");
        assertTrue(c.mismatch(byteLevel.model(), "byte") != null, "a byte-level experiment matches a tokenizer.json checkpoint");
    }
}
