package org.fslspark.config;

import org.fslspark.algorithm.ServerOrder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ExperimentLoaderTest {
    @TempDir
    Path dir;

    private File write(String text) throws IOException {
        Path f = dir.resolve("x.conf");
        Files.writeString(f, text);
        return f.toFile();
    }

    private String error(String conf, String... overrides) throws IOException {
        File f = write(conf);
        return assertThrows(ConfigException.class, () -> ExperimentLoader.load(f, List.of(overrides))).getMessage();
    }

    @Test
    void quickstartConfigLoadsWithItsValues() {
        Experiment e = ExperimentLoader.load(new File("conf/quickstart.conf"), List.of());
        assertEquals("quickstart", e.name());
        assertEquals("splitfed-v2", e.algorithm());
        assertEquals(List.of("osu", "utaustin", "umich", "iitb"), e.institutes());
        assertEquals("out/quickstart", e.output());
        // Executors run elsewhere (a Spark worker's directory), so a relative location is made absolute here.
        assertEquals(new java.io.File("out/data/quickstart/osu").getAbsolutePath(), e.data().locationOf("osu"));
    }

    @Test
    void overridesWinOverTheFileAndTheDefaults() throws IOException {
        Experiment e = ExperimentLoader.load(write("train.rounds = 4\nexperiment = a"), List.of(
                "train.rounds=2", "experiment=b", "spark.master=local[3]", "train.server-order=client-by-client",
                "train.optimizer.learning-rate=0.01", "institutes=[osu, iitb]"));
        assertEquals(2, e.train().rounds());
        assertEquals("b", e.name());
        assertEquals("out/b", e.output());
        assertEquals("local[3]", e.spark().master());
        assertEquals(ServerOrder.CLIENT_BY_CLIENT, e.train().serverOrder());
        assertEquals(0.01, e.train().optimizer().learningRate());
        assertEquals(List.of("osu", "iitb"), e.institutes());
    }

    @Test
    void unknownKeyIsNamedWithTheValidOnes() throws IOException {
        String m = error("train.epochs = 3");
        assertTrue(m.contains("unknown config key [train.epochs]"), m);
        assertTrue(m.contains("train.local-epochs"), m);
        String fromOverride = error("", "trian.rounds=3");
        assertTrue(fromOverride.contains("[trian.rounds] in --set"), fromOverride);
    }

    @Test
    void outOfRangeValuesNameTheirKey() throws IOException {
        assertEquals("train.rounds must be >= 1, got -1", error("train.rounds = -1"));
        assertEquals("data.partition.alpha must be > 0, got 0.0", error("data.partition.alpha = 0"));
        assertTrue(error("model.cut = 40").startsWith("model.cut = 40 is outside 1..9 for fmnist_cnn"));
        assertTrue(error("algorithm = fedsgd").contains("algorithm = 'fedsgd' is not one of"));
        assertTrue(error("stop.target-accuracy = 1.5").startsWith("stop.target-accuracy must be in [0, 1]"));
        assertTrue(error("institutes = [osu, osu]").contains("names an institute twice"));
        assertTrue(error("train.optimizer.learning-rate = -1").startsWith("train.optimizer.learning-rate must be > 0"));
    }

    @Test
    void aConfigAndItsTopologyAreReadThroughHadoopUris() throws IOException {
        Path topology = dir.resolve("bed.conf");
        Files.copy(Path.of("conf/testbeds/aiedge.conf"), topology);
        File f = write("train.rounds = 3\ntestbed.topology = \"" + topology.toUri() + "\"");
        Experiment e = ExperimentLoader.fromLocation(f.toURI().toString(), List.of());
        assertEquals(3, e.train().rounds());
        assertEquals(List.of("osu", "utaustin", "umich", "iitb"), e.testbed().topology().siteIds());
    }

    @Test
    void missingConfigFileIsNamed() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ExperimentLoader.load(new File("conf/nope.conf"), List.of()));
        assertTrue(e.getMessage().startsWith("config file conf/nope.conf does not exist (looked for "
                + new File("conf/nope.conf").getAbsolutePath() + " on the local file system of "), e.getMessage());
        ConfigException remote = assertThrows(ConfigException.class,
                () -> ExperimentLoader.fromLocation(dir.toUri() + "nope.conf", List.of()));
        assertTrue(remote.getMessage().startsWith("config file " + dir.toUri() + "nope.conf does not exist (looked for "),
                remote.getMessage());
    }

    @Test
    void aTextExperimentBuildsAGptOverTheTokenizersVocabulary() throws IOException {
        Experiment e = ExperimentLoader.load(write("data.format = text\nmodel.name = gpt"), List.of(
                "data.context=48", "model.width=64", "model.depth=3", "model.heads=2", "model.cut=2",
                "data.partition.scheme=document"));
        assertTrue(e.data().isText());
        assertEquals(org.fslspark.model.ModelSpec.gpt(257, 48, 64, 3, 2, 2), e.model());
        assertEquals("document", e.data().scheme());
        assertEquals("byte", e.data().tokenizer());
        // Image experiments are unchanged.
        assertFalse(ExperimentLoader.load(new File("conf/quickstart.conf"), List.of()).data().isText());
    }

    @Test
    void modelWidthNarrowsAResNetAndIsRefusedForAModelWithoutOne() throws IOException {
        String resnet = "model.name = resnet20\ndata.input-shape = [1, 28, 28]";
        File f = write(resnet);
        assertEquals(Map.of("width", 8), ExperimentLoader.load(f, List.of("model.width=8")).model().options());
        // The default width, set or not, is the same model (and so the same checkpoint).
        assertEquals(ExperimentLoader.load(f, List.of()).model(), ExperimentLoader.load(f, List.of("model.width=16")).model());
        assertTrue(ExperimentLoader.load(f, List.of()).model().options().isEmpty());
        String refused = error("model.name = simple_conv", "model.width=8");
        assertTrue(refused.contains("model.width") && refused.contains("simple_conv has no width"), refused);
        assertTrue(error(resnet, "model.width=-1").contains("model.width"));
        // gpt's 0 is its 128.
        assertEquals(org.fslspark.model.ModelSpec.gpt(257, 48, 128, 4, 4, 0).options(),
                ExperimentLoader.load(write("data.format = text\nmodel.name = gpt"), List.of("data.context=48",
                        "data.partition.scheme=document")).model().options());
    }

    @Test
    void languageModelSettingsAreCheckedNamingTheirKey() throws IOException {
        assertTrue(error("data.format = text").contains("model.name = gpt"));
        assertTrue(error("model.name = gpt").contains("data.format = text"));
        assertTrue(error("data.format = text\nmodel.name = gpt", "data.partition.scheme=dirichlet")
                .contains("data.partition.scheme"));
        assertTrue(error("model.name = fmnist_cnn", "data.partition.scheme=document").contains("data.partition.scheme"));
        assertTrue(error("data.format = text\nmodel.name = gpt", "data.context=0").contains("data.context"));
        assertTrue(error("data.format = text\nmodel.name = gpt", "model.width=30", "model.heads=4")
                .contains("divisible by heads"));
        String missing = error("data.format = text\nmodel.name = gpt", "data.tokenizer=\"" + dir.resolve("none.json") + "\"");
        assertTrue(missing.contains("data.tokenizer") && missing.contains("none.json"), missing);
        assertTrue(error("data.test-fraction = 1.5").contains("data.test-fraction"));
        assertTrue(error("model.name = fmnist_cnn", "algorithm=fsl-sage", "auxiliary.model=block").contains("auxiliary.model"));
    }

    @Test
    void theFortunesLanguageModelConfigLoads() {
        Experiment e = ExperimentLoader.load(new File("conf/fortunes-lm.conf"), List.of());
        assertEquals("gpt", e.model().name());
        assertEquals(128, e.data().context());
        assertEquals("%", e.data().delimiter());
    }

    @Test
    void withoutATestbedThereIsNoTopology() {
        Experiment e = ExperimentLoader.load(new File("conf/quickstart.conf"), List.of());
        assertFalse(e.testbed().enabled());
        assertFalse(e.testbed().emulatesLinks());
    }

    @Test
    void aTestbedIsLoadedAndItsSiteLocationsUsed() throws IOException {
        Path topology = dir.resolve("two.conf");
        Files.writeString(topology, """
                server-site = osu
                sites { osu {}, iitb { data = "hdfs://iitb/fsl/share" } }
                links { osu { rtt = 1 ms, throughput-mbps = 1000 }, iitb { rtt = 200 ms, throughput-mbps = 100 } }
                """);
        Experiment e = ExperimentLoader.load(write(""), List.of("testbed.topology=\"" + topology + "\"",
                "institutes=[osu, iitb]", "testbed.executor-wait=5s"));
        assertTrue(e.testbed().enabled());
        assertTrue(e.testbed().emulatesLinks());
        assertEquals(5.0, e.testbed().executorWaitSeconds());
        assertEquals("hdfs://iitb/fsl/share", e.data().locationOf("iitb"));
        assertEquals(new java.io.File("out/data/experiment/osu").getAbsolutePath(), e.data().locationOf("osu"));
        Experiment off = ExperimentLoader.load(write(""), List.of("testbed.topology=\"" + topology + "\"",
                "institutes=[osu, iitb]", "testbed.emulate-links=false"));
        assertTrue(off.testbed().enabled());
        assertFalse(off.testbed().emulatesLinks());
    }

    @Test
    void institutesMustBeSitesOfTheTestbed() throws IOException {
        String aiedge = "testbed.topology = conf/testbeds/aiedge.conf\n";
        assertEquals("institutes [tum] is not a site of the test-bed conf/testbeds/aiedge.conf (sites: osu, utaustin, umich, iitb)",
                error(aiedge + "institutes = [osu, tum]"));
        assertEquals("server-site = 'umich' but the test-bed conf/testbeds/aiedge.conf hosts the server part at 'osu'",
                error(aiedge + "server-site = umich"));
        String missing = error("testbed.topology = conf/testbeds/none.conf");
        assertTrue(missing.startsWith("testbed.topology: topology file conf/testbeds/none.conf does not exist (looked for "
                + new File("conf/testbeds/none.conf").getAbsolutePath()), missing);
        assertTrue(error("testbed.executor-wait = 0s").startsWith("testbed.executor-wait must be > 0"));
    }

    @Test
    void aResumedRunMayChangeOnlyRoundsStopSparkAndCheckpoints() {
        String saved = ExperimentLoader.load(null, List.of("train.rounds=2")).resolvedConfig();
        ExperimentLoader.requireResumable(saved, ExperimentLoader.load(null, List.of("train.rounds=5",
                "stop.target-accuracy=0.5", "spark.master=local[2]", "checkpoint.keep=3", "fault.round-attempts=1",
                "debug.nan=\"client:0:round:1:batch:3\"")).resolvedConfig());
        ConfigException e = assertThrows(ConfigException.class, () -> ExperimentLoader.requireResumable(saved,
                ExperimentLoader.load(null, List.of("train.rounds=5", "train.optimizer.learning-rate=0.01")).resolvedConfig()));
        assertTrue(e.getMessage().contains("train.optimizer.learning-rate"), e.getMessage());
    }

    /** A run saved before a key existed did what the key's default does: transport.* missing means float32. */
    @Test
    void aKeyTheSavedConfigLacksCountsAsItsDefault() {
        String saved = com.typesafe.config.ConfigFactory.parseString(ExperimentLoader.load(null, List.of()).resolvedConfig())
                .withoutPath("transport").root().render(com.typesafe.config.ConfigRenderOptions.concise());
        ExperimentLoader.requireResumable(saved, ExperimentLoader.load(null, List.of()).resolvedConfig());
        ConfigException e = assertThrows(ConfigException.class, () -> ExperimentLoader.requireResumable(saved,
                ExperimentLoader.load(null, List.of("transport.activation-codec=int8")).resolvedConfig()));
        assertTrue(e.getMessage().contains("transport.activation-codec = int8 differs from the saved run's float32"), e.getMessage());
    }

    /**
     * model.width's default was gpt's 128 before the ResNets had a width: such runs resume as the model they built
     * (gpt at 128; a model without a width, whatever it held). A ResNet saved with 128 is refused: since then that
     * means 128 channels, and the saved config cannot tell an older run at the default apart.
     */
    @Test
    void aWidthIsComparedAsTheModelWasBuiltWithIt() {
        java.util.function.BiFunction<String, String, String> saved = (model, width) -> ExperimentLoader.load(null,
                List.of("model.name=" + model, "model.width=0")).resolvedConfig().replace("width=0", "width=" + width);
        ExperimentLoader.requireResumable(saved.apply("simple_conv", "128"),
                ExperimentLoader.load(null, List.of("model.name=simple_conv")).resolvedConfig());
        ExperimentLoader.requireResumable(saved.apply("fmnist_cnn", "128"), ExperimentLoader.load(null, List.of()).resolvedConfig());
        ConfigException e = assertThrows(ConfigException.class, () -> ExperimentLoader.requireResumable(
                saved.apply("resnet20", "128"), ExperimentLoader.load(null, List.of("model.name=resnet20")).resolvedConfig()));
        assertTrue(e.getMessage().contains("model.width = 16 differs from the saved run's 128"), e.getMessage());
        ExperimentLoader.requireResumable(saved.apply("resnet20", "16"),
                ExperimentLoader.load(null, List.of("model.name=resnet20")).resolvedConfig());
    }

    @Test
    void depthAndHeadsAreComparedOnlyForTheModelThatTakesThem() {
        String resnet = ExperimentLoader.load(null, List.of("model.name=resnet20")).resolvedConfig();
        ExperimentLoader.requireResumable(resnet,
                ExperimentLoader.load(null, List.of("model.name=resnet20", "model.depth=6", "model.heads=2")).resolvedConfig());
        File lm = new File("conf/fortunes-lm.conf");
        String gpt = ExperimentLoader.load(lm, List.of("model.depth=4")).resolvedConfig();
        ConfigException e = assertThrows(ConfigException.class, () -> ExperimentLoader.requireResumable(gpt,
                ExperimentLoader.load(lm, List.of("model.depth=6")).resolvedConfig()));
        assertTrue(e.getMessage().contains("model.depth = 6 differs from the saved run's 4"), e.getMessage());
    }

    @Test
    void algorithmSettingsAreComparedOnlyForTheAlgorithmsThatReadThem() {
        List<String> changed = List.of("alignment.epochs=7", "auxiliary.hidden=64", "server-interval=3", "warm-start=true");
        for (String algorithm : List.of("fedavg", "sl", "splitfed-v1", "splitfed-v2")) {
            ExperimentLoader.requireResumable(ExperimentLoader.load(null, List.of("algorithm=" + algorithm)).resolvedConfig(),
                    ExperimentLoader.load(null, concat(List.of("algorithm=" + algorithm), changed)).resolvedConfig());
        }
        // CSE-FSL reads the interval and its auxiliary model, not FSL-SAGE's alignment; FSL-SAGE reads all four.
        String cse = ExperimentLoader.load(null, List.of("algorithm=cse-fsl")).resolvedConfig();
        ExperimentLoader.requireResumable(cse, ExperimentLoader.load(null, List.of("algorithm=cse-fsl", "alignment.epochs=7",
                "warm-start=true")).resolvedConfig());
        String sage = ExperimentLoader.load(null, List.of("algorithm=fsl-sage")).resolvedConfig();
        for (String key : changed) {
            String name = key.substring(0, key.indexOf('='));
            for (String saved : key.startsWith("alignment") || key.startsWith("warm-start") ? List.of(sage) : List.of(sage, cse)) {
                String algorithm = saved == sage ? "fsl-sage" : "cse-fsl";
                ConfigException e = assertThrows(ConfigException.class, () -> ExperimentLoader.requireResumable(saved,
                        ExperimentLoader.load(null, List.of("algorithm=" + algorithm, key)).resolvedConfig()), algorithm + " " + key);
                assertTrue(e.getMessage().startsWith("cannot resume: " + name + " = "), e.getMessage());
            }
        }
        // A changed algorithm is named first, whatever its settings.
        ConfigException e = assertThrows(ConfigException.class, () -> ExperimentLoader.requireResumable(sage,
                ExperimentLoader.load(null, List.of("algorithm=fedavg")).resolvedConfig()));
        assertTrue(e.getMessage().startsWith("cannot resume: algorithm = fedavg differs from the saved run's fsl-sage"), e.getMessage());
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new java.util.ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    @Test
    void aCutPerSiteIsReadFromAMapWithADefault() {
        Experiment e = ExperimentLoader.load(null, List.of("model.cut={iitb = 8, osu = 0, default = 3}"));
        // fmnist_cnn's default cut is 6; the global model is split at the shallowest, utaustin's and umich's 3.
        assertEquals(List.of(0, 3, 3, 8), e.cuts());
        assertEquals(3, e.model().cut());
        assertEquals(8, e.modelOf(3).cut());
        // One cut for every institute, however spelled, is that cut: no per-site cuts.
        Experiment uniform = ExperimentLoader.load(null, List.of("model.cut={default = 4, iitb = 4}"));
        assertEquals(List.of(), uniform.cuts());
        assertEquals(4, uniform.model().cut());
        assertEquals(List.of(), ExperimentLoader.load(null, List.of("model.cut.iitb=6", "model.cut.default=0")).cuts());
    }

    @Test
    void aCutPerSiteIsRefusedNamingTheKeyAndTheSite() {
        for (String[] bad : new String[][]{
                {"model.cut={iitb = 12, default = 3}", "model.cut.iitb (institute iitb): model.cut = 12 is outside 1..9 for fmnist_cnn"},
                {"model.cut={ucla = 3, default = 4}", "model.cut.ucla: 'ucla' is not an institute (institutes: osu, utaustin, umich, iitb"},
                {"model.cut={iitb = 3, osu = 4}", "model.cut names no cut for institute utaustin and has no default"},
                {"model.cut={iitb = -1, default = 4}", "model.cut.iitb must be >= 0, got -1"},
                {"model.cut={iitb = x, default = 4}", "model.cut.iitb must be an integer"},
                {"model.cut=\"deep\"", "model.cut must be an integer"}}) {
            ConfigException e = assertThrows(ConfigException.class, () -> ExperimentLoader.load(null, List.of(bad[0])));
            assertTrue(e.getMessage().startsWith(bad[1]), bad[0] + ": " + e.getMessage());
        }
        ConfigException trace = assertThrows(ConfigException.class, () -> ExperimentLoader.load(null,
                List.of("model.cut={iitb = 8, default = 6}", "debug.trace=/tmp/x")));
        assertTrue(trace.getMessage().startsWith("debug.trace: bench/oracle.py replays one cut"), trace.getMessage());
    }

    @Test
    void checkpointKeysAreValidated() {
        assertEquals(new Experiment.Checkpointing(1, 2, "auto"), ExperimentLoader.load(null, List.of()).checkpoint());
        ConfigException e = assertThrows(ConfigException.class,
                () -> ExperimentLoader.load(null, List.of("checkpoint.keep=0")));
        assertTrue(e.getMessage().contains("checkpoint.keep"), e.getMessage());
    }

    @Test
    void faultKeysAreValidatedAndTheHooksParsed() {
        Experiment.Faults off = ExperimentLoader.load(null, List.of()).fault();
        assertEquals(new Experiment.Faults(3, null, null, null, -1, 4, 60, null, Experiment.Faults.AUTO, null), off);
        Experiment.Faults on = ExperimentLoader.load(null, List.of("debug.fail=\"server:round:2:batch:5\"",
                "debug.nan=\"client:1:round:0:batch:7\"")).fault();
        assertEquals(new Experiment.FaultPoint(-1, 2, 5), on.fail());
        assertTrue(on.fail().server());
        assertEquals(new Experiment.FaultPoint(1, 0, 7), on.nan());
        assertEquals(new Experiment.FaultPoint(1, 2, 7),
                ExperimentLoader.load(null, List.of("debug.fail=\"client:1:round:2:batch:7\"")).fault().fail());
        Experiment.Faults dropout = ExperimentLoader.load(null, List.of("fault.min-institutes=3", "fault.site-timeout=90s",
                "debug.forget=\"round:2\"", "debug.refuse=\"client:1:round:1:batch:1\"")).fault();
        assertEquals(List.of(3, 90.0, 2), List.of(dropout.minInstitutes(), dropout.siteTimeoutSeconds(), dropout.forget()));
        assertEquals(new Experiment.FaultPoint(1, 1, 1), dropout.refuse());
        Experiment.Faults stall = ExperimentLoader.load(null, List.of("fault.round-timeout=2m",
                "debug.stall=\"server:round:1:batch:0\"")).fault();
        assertEquals(120.0, stall.roundTimeoutSeconds());
        assertEquals(new Experiment.FaultPoint(-1, 1, 0), stall.stall());
        assertEquals(new Experiment.FaultPoint(2, 1, -1),
                ExperimentLoader.load(null, List.of("debug.absent=\"client:2:round:1\"")).fault().absent());
        for (String bad : List.of("fault.round-attempts=0", "debug.fail=\"client:1:round:2\"", "debug.nan=\"server:round:2:batch:5\"",
                "fault.min-institutes=5", "fault.site-timeout=0s", "debug.forget=\"2\"",
                "debug.absent=\"client:1:round:2:batch:0\"", "fault.round-timeout=0s", "fault.round-timeout=soon",
                "debug.stall=\"round:2\"")) {
            ConfigException e = assertThrows(ConfigException.class, () -> ExperimentLoader.load(null, List.of(bad)));
            assertTrue(e.getMessage().contains(bad.substring(0, bad.indexOf('='))), e.getMessage());
        }
    }
}
