package org.fslspark.runtime;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.fslspark.cli.Main;
import org.fslspark.data.SyntheticText;
import org.fslspark.metrics.HadoopFiles;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every location on HDFS (a MiniDFSCluster on 127.0.0.1): the experiment's config file, its corpus,
 * the prepared partitions, the results, the round checkpoints, the model a second run starts from
 * and the model {@code generate} samples from. The commands run as {@code fsl} runs them; a tiny
 * byte-level GPT on synthetic text (two institutes, two rounds) keeps it short.
 */
@Tag("e2e")
class HdfsEndToEndTest {
    @TempDir
    static java.nio.file.Path dir;
    static MiniDFSCluster dfs;
    static String hdfs;
    static FileSystem fs;

    @BeforeAll
    static void start() throws IOException {
        Configuration conf = new Configuration();
        conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, dir.resolve("dfs").toString());
        dfs = new MiniDFSCluster.Builder(conf).numDataNodes(1).build();
        dfs.waitActive();
        hdfs = "hdfs://127.0.0.1:" + dfs.getNameNodePort();
        fs = FileSystem.get(java.net.URI.create(hdfs), conf);
    }

    @AfterAll
    static void stop() {
        if (dfs != null) {
            dfs.shutdown();
        }
    }

    @Test
    void prepareTrainStartFromACheckpointAndGenerateWithEveryLocationOnHdfs() throws Exception {
        java.nio.file.Path corpus = SyntheticText.writeFiles(dir.resolve("corpus"), SyntheticText.documents(40, 16, 2, 11));
        fs.copyFromLocalFile(new Path(corpus.toUri()), new Path(hdfs + "/fsl/corpus"));
        String config = hdfs + "/fsl/conf/tiny-gpt.conf";
        HadoopFiles.write(fs, new Path(config), (""
                + "experiment = hdfs-gpt\nalgorithm = splitfed-v2\nseed = 3\n"
                + "institutes = [osu, iitb]\nserver-site = osu\n"
                + "model { name = gpt, width = 32, depth = 2, heads = 2, cut = 1 }\n"
                + "data { dataset = synthetic, format = text, tokenizer = byte, context = 32, test-fraction = 0.15,\n"
                + "  partition.scheme = document, train = [\"" + hdfs + "/fsl/corpus\"], test = [],\n"
                + "  location = \"" + hdfs + "/fsl/data\" }\n"
                + "train { rounds = 2, batch-size = 16, eval-batch-size = 64,\n"
                + "  optimizer { name = adam, learning-rate = 0.003 }, server-optimizer { name = adam, learning-rate = 0.003 } }\n"
                + "checkpoint.interval = 1\n"
                + "output = \"" + hdfs + "/fsl/out\"\n"
                + "spark.master = \"local[3]\"\n").getBytes(StandardCharsets.UTF_8));

        assertEquals(0, Main.run("prepare", config), "prepare");
        assertTrue(fs.listStatus(new Path(hdfs + "/fsl/data")).length > 0, "no partitions on HDFS");
        assertEquals(0, Main.run("train", config), "train");
        for (String written : List.of("rounds.csv", "rounds.parquet", "traffic.csv", "config", "model/model.json",
                "state/round-0", "state/round-1")) {
            assertTrue(fs.exists(new Path(hdfs + "/fsl/out/" + written)), written + " is missing from " + hdfs + "/fsl/out");
        }
        List<String> rounds = lines(hdfs + "/fsl/out/rounds.csv");
        assertEquals(3, rounds.size(), "a header and two rounds: " + rounds);

        // A second run starts from the first one's model, read from HDFS: its first round starts where
        // the first run ended, so its held-out loss after that round is below the first run's after its first.
        assertEquals(0, Main.run("train", config, "--out", hdfs + "/fsl/tuned", "--set", "train.rounds=1",
                "--set", "model.init=\"" + hdfs + "/fsl/out/model\""), "train from the checkpoint");
        double scratch = loss(rounds.get(1), rounds.get(0));
        List<String> tuned = lines(hdfs + "/fsl/tuned/rounds.csv");
        assertTrue(loss(tuned.get(1), tuned.get(0)) < scratch, "from " + hdfs + "/fsl/out/model: " + tuned + " vs " + rounds);

        PrintStream stdout = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        int code;
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            code = Main.run("generate", hdfs + "/fsl/out/model", "--prompt", "the ", "--tokens", "12", "--temperature", "0");
        } finally {
            System.setOut(stdout);
        }
        String text = captured.toString(StandardCharsets.UTF_8);
        System.out.println("generated: " + text);
        assertEquals(0, code, "generate");
        assertTrue(text.startsWith("the ") && text.strip().length() > "the".length(), text);
    }

    private static List<String> lines(String location) throws IOException {
        try (var in = fs.open(new Path(location))) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        }
    }

    private static double loss(String row, String header) {
        return Double.parseDouble(row.split(",")[List.of(header.split(",")).indexOf("test_loss")]);
    }
}
