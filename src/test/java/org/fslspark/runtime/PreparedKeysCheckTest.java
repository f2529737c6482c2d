package org.fslspark.runtime;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.fslspark.config.ConfigException;
import org.fslspark.config.Experiment;
import org.fslspark.data.LabeledImages;
import org.fslspark.data.PartitionStore;
import org.fslspark.data.SyntheticText;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Train refuses partitions prepared with other values of the keys prepare applies (issue 13: a
 * {@code --set data.train-subset=4000} at train used to be silently ignored), naming the key, both values
 * and the command that prepares again. No Spark: the driver checks before it schedules anything.
 */
class PreparedKeysCheckTest {
    static final Configuration CONF = new Configuration();
    static final String[] SETUP = {"institutes=[osu, iitb]", "data.train-subset=200"}; // quickstart: dirichlet, alpha 0.5
    @TempDir
    static java.nio.file.Path dir;

    @BeforeAll
    static void prepare() throws Exception {
        Fixtures.prepare(Fixtures.experiment(dir, SETUP));
        SyntheticText.writeFiles(dir.resolve("text/corpus"), SyntheticText.documents(40, 16, 2, 11));
        PrepareJob.run(TextEndToEndTest.experiment(dir.resolve("text")), true, null);
    }

    private static Experiment image(String... more) {
        return Fixtures.experiment(dir, EndToEndTest.concat(SETUP, more));
    }

    /** The check FederatedTraining.run makes for every institute and the test set. */
    private static void check(Experiment e) {
        for (String institute : e.institutes()) {
            SiteData.requirePrepared(CONF, e.data().locationOf(institute), institute, e);
        }
        SiteData.requirePrepared(CONF, e.data().testLocation(), PartitionStore.TEST, e);
    }

    private static void assertRefused(Experiment e, String key, String here, String prepared) {
        ConfigException x = assertThrows(ConfigException.class, () -> check(e), key);
        String m = x.getMessage();
        for (String part : new String[]{key + " = " + here + " in this experiment but " + prepared + " when prepared",
                "bin/fsl prepare CONFIG --set '" + key + "=" + here + "' --overwrite", "--set '" + key + "=" + prepared + "'"}) {
            assertTrue(m.contains(part), "'" + m + "' should contain '" + part + "'");
        }
    }

    @Test
    void theValuesItWasPreparedWithPassAndKeysPrepareDoesNotApplyMayDiffer() {
        assertDoesNotThrow(() -> check(image()));
        assertDoesNotThrow(() -> check(image("algorithm=fedavg", "train.rounds=7", "model.name=simple_conv",
                "stop.target-accuracy=0.5")));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "data.train-subset=4000 | data.train-subset | 4000 | 200",
            "data.partition.alpha=0.1 | data.partition.alpha | 0.1 | 0.5",
            "data.partition.scheme=iid | data.partition.scheme | \"iid\" | \"dirichlet\"",
            "seed=2 | seed | 2 | 1",
            "institutes=[osu, umich] | institutes | [\"osu\",\"umich\"] | [\"osu\",\"iitb\"]",
            "data.format=parquet | data.format | \"parquet\" | \"idx\"",
            "data.test=[a, b] | data.test | [\"a\",\"b\"] |",
            "data.train=[a, b] | data.train | [\"a\",\"b\"] |"})
    void anImageKeyOfPrepareSetOtherwiseIsRefusedNamingBothValues(String set, String key, String here, String prepared) {
        // Without a prepared value: the default sources (Fashion-MNIST's files) were prepared.
        String was = prepared != null ? prepared : render(key.equals("data.test") ? image().data().test() : image().data().train());
        Experiment e = image(set);
        if (key.equals("institutes")) {
            // umich has no share: the check of osu's share already refuses the run.
            ConfigException x = assertThrows(ConfigException.class,
                    () -> SiteData.requirePrepared(CONF, e.data().locationOf("osu"), "osu", e));
            assertTrue(x.getMessage().contains(key + " = " + here + " in this experiment but " + was), x.getMessage());
            return;
        }
        assertRefused(e, key, here, was);
    }

    private static String render(java.util.List<String> paths) {
        return com.typesafe.config.ConfigValueFactory.fromAnyRef(paths).render(com.typesafe.config.ConfigRenderOptions.concise());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "data.delimiter=% | data.delimiter | \"%\" | \"\"",
            "data.test-fraction=0.3 | data.test-fraction | 0.3 | 0.15",
            "data.partition.scheme=iid | data.partition.scheme | \"iid\" | \"document\"",
            "seed=4 | seed | 4 | 3"})
    void aTextKeyOfPrepareSetOtherwiseIsRefused(String set, String key, String here, String prepared) {
        assertRefused(TextEndToEndTest.experiment(dir.resolve("text"), set), key, here, prepared);
        assertDoesNotThrow(() -> check(TextEndToEndTest.experiment(dir.resolve("text"))));
    }

    @Test
    void aShareAnInstitutePreparedAloneFromItsOwnDataIsAccepted() {
        // README, Running on a cluster: each institute may run prepare on its own data (institutes = [itself]).
        java.nio.file.Path own = dir.resolve("own");
        Fixtures.prepare(Fixtures.experiment(own, "institutes=[iitb]", "data.train-subset=100", "data.partition.scheme=iid"));
        Experiment federation = Fixtures.experiment(own, SETUP);
        assertDoesNotThrow(() -> SiteData.requirePrepared(CONF, federation.data().locationOf("iitb"), "iitb", federation));
        assertDoesNotThrow(() -> SiteData.requirePrepared(CONF, federation.data().testLocation(), PartitionStore.TEST, federation));
        // Alone, the same institute's experiment is checked as any other.
        assertRefused(Fixtures.experiment(own, "institutes=[iitb]", "data.train-subset=100", "data.partition.scheme=iid",
                "seed=5"), "seed", "5", "1");
    }

    @Test
    void aPartitionWithoutTheRecordIsRefusedWithTheCommandThatPreparesAgain() {
        // As an earlier version wrote it: the share and its summary, without the prepared keys.
        java.nio.file.Path old = dir.resolve("old");
        Experiment e = Fixtures.experiment(old, SETUP);
        LabeledImages some = PartitionStore.read(CONF, new Path(image().data().locationOf("osu")), "osu");
        PartitionStore.write(CONF, new Path(e.data().locationOf("osu")), "osu", "fashion-mnist", some, false);
        ConfigException x = assertThrows(ConfigException.class,
                () -> SiteData.requirePrepared(CONF, e.data().locationOf("osu"), "osu", e));
        assertTrue(x.getMessage().contains("earlier version of fsl-spark") && x.getMessage().contains("data.train-subset")
                && x.getMessage().contains("bin/fsl prepare CONFIG [--set KEY=VALUE]... --overwrite"), x.getMessage());
    }
}
