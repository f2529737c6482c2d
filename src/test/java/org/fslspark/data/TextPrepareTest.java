package org.fslspark.data;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.fslspark.text.ByteTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Text prepare: sequences, shares, held-out documents, determinism, and the refusals of bad input. */
class TextPrepareTest {
    private static final Configuration CONF = new Configuration();
    private static final List<String> INSTITUTES = List.of("osu", "umich", "iitb");
    private static final int CONTEXT = 32;

    @TempDir
    java.nio.file.Path dir;

    private java.nio.file.Path corpus(int documents, long seed) throws Exception {
        return SyntheticText.writeFiles(dir.resolve("corpus-" + documents + "-" + seed),
                SyntheticText.documents(documents, 12, SyntheticText.kinds(), seed));
    }

    private TextSpec spec(java.nio.file.Path out, List<String> train, TextSpec.Scheme scheme, long seed,
                          List<String> institutes) {
        return spec(out, train, scheme, seed, institutes, 0);
    }

    private TextSpec spec(java.nio.file.Path out, List<String> train, TextSpec.Scheme scheme, long seed,
                          List<String> institutes, int subset) {
        List<PrepareSpec.Target> targets = new ArrayList<>();
        for (String i : institutes) {
            targets.add(new PrepareSpec.Target(i, out.resolve(i).toString()));
        }
        return new TextSpec("synthetic", train, List.of(), "byte", CONTEXT, "", 0.2, targets, scheme, seed,
                subset, out.resolve("_test").toString(), false);
    }

    private static Map<String, TokenSequences> read(TextSpec spec) {
        Map<String, TokenSequences> shares = new HashMap<>();
        for (PrepareSpec.Target t : spec.institutes()) {
            shares.put(t.institute(), TokenStore.read(CONF, new Path(t.location()), t.institute()));
        }
        shares.put(PartitionStore.TEST, TokenStore.readTest(CONF, new Path(spec.testLocation())));
        return shares;
    }

    @Test
    void iidSharesPartitionTheTrainingSequencesEvenlyAndTheHeldOutDocumentsStayOut() throws Exception {
        TextSpec spec = spec(dir.resolve("iid"), List.of(corpus(30, 1).toString()), TextSpec.Scheme.IID, 5, INSTITUTES);
        TextPrepare.Result r = TextPrepare.run(CONF, spec, null);
        Map<String, TokenSequences> shares = read(spec);
        long total = r.shares().stream().mapToLong(TextPrepare.Share::sequences).sum();
        Set<Long> ids = new HashSet<>();
        Set<Long> trainDocs = new HashSet<>();
        int min = Integer.MAX_VALUE;
        int max = 0;
        for (String i : INSTITUTES) {
            TokenSequences s = shares.get(i);
            assertEquals(CONTEXT, s.context());
            assertEquals(257, s.vocab());
            min = Math.min(min, s.size());
            max = Math.max(max, s.size());
            for (long id : s.sequenceIds()) {
                assertTrue(ids.add(id), "sequence " + id + " in two shares");
            }
            Arrays.stream(s.documents()).forEach(trainDocs::add);
        }
        assertTrue(max - min <= 1, "uneven iid shares " + min + ".." + max);
        assertEquals(total, ids.size());
        assertEquals(total - 1, ids.stream().mapToLong(Long::longValue).max().orElseThrow());
        // 20% of 30 documents are held out, and none of them feeds a training sequence's first token.
        TokenSequences test = shares.get(PartitionStore.TEST);
        assertEquals(6, Arrays.stream(test.documents()).distinct().count());
        for (long d : test.documents()) {
            assertFalse(trainDocs.contains(d), "held-out document " + d + " also trains");
        }
        for (long id : test.sequenceIds()) {
            assertFalse(ids.contains(id));
        }
        // iid mixes: every institute holds sequences of several kinds (documents from the whole corpus).
        for (String i : INSTITUTES) {
            long[] docs = shares.get(i).documents();
            assertTrue(Arrays.stream(docs).max().orElseThrow() - Arrays.stream(docs).min().orElseThrow() > 15, i);
        }
    }

    @Test
    void aTrainSubsetKeepsThatManySequencesInEachSharesProportionAndTheWholeTestSet() throws Exception {
        String src = corpus(30, 1).toString();
        TextSpec full = spec(dir.resolve("full"), List.of(src), TextSpec.Scheme.DOCUMENT, 5, INSTITUTES);
        TextPrepare.Result all = TextPrepare.run(CONF, full, null);
        TextSpec part = spec(dir.resolve("subset"), List.of(src), TextSpec.Scheme.DOCUMENT, 5, INSTITUTES, 40);
        TextPrepare.Result some = TextPrepare.run(CONF, part, null);
        long total = all.shares().stream().mapToLong(TextPrepare.Share::sequences).sum();
        assertEquals(40, some.shares().stream().mapToLong(TextPrepare.Share::sequences).sum(), 1.0 * INSTITUTES.size());
        Map<String, TokenSequences> whole = read(full);
        Map<String, TokenSequences> kept = read(part);
        for (String i : INSTITUTES) {
            assertEquals(whole.get(i).size() * 40.0 / total, kept.get(i).size(), 1.0, i);
            Set<Long> ids = new HashSet<>();
            Arrays.stream(whole.get(i).sequenceIds()).forEach(ids::add);
            for (long id : kept.get(i).sequenceIds()) {
                assertTrue(ids.contains(id), i + " kept a sequence it did not hold");
            }
        }
        assertEquals(whole.get(PartitionStore.TEST).size(), kept.get(PartitionStore.TEST).size());
        DataException e = assertThrows(DataException.class, () -> TextPrepare.run(CONF,
                spec(dir.resolve("too-many"), List.of(src), TextSpec.Scheme.DOCUMENT, 5, INSTITUTES, (int) total + 1), null));
        assertTrue(e.getMessage().contains("data.train-subset"), e.getMessage());
    }

    @Test
    void aSequenceIsContextInputsAndTheirNextTokens() throws Exception {
        TextSpec spec = spec(dir.resolve("shape"), List.of(corpus(12, 2).toString()), TextSpec.Scheme.IID, 1, INSTITUTES);
        TextPrepare.run(CONF, spec, null);
        TokenSequences s = read(spec).get("osu");
        int[] idx = {0, s.size() - 1};
        INDArray x = s.features(idx);
        int[] y = s.labels(idx);
        assertArrayEquals(new long[]{2, CONTEXT}, x.shape());
        assertEquals(2 * CONTEXT, y.length);
        for (int b = 0; b < 2; b++) {
            int[] seq = s.sequence(idx[b]);
            assertEquals(CONTEXT + 1, seq.length);
            for (int j = 0; j < CONTEXT; j++) {
                assertEquals(seq[j], x.getInt(b, j));
                assertEquals(seq[j + 1], y[b * CONTEXT + j]);
            }
        }
        // The text round-trips: the first sequence of the corpus starts a synthetic sentence.
        String text = new ByteTokenizer().decode(s.sequence(0));
        assertTrue(Character.isLetter(text.charAt(0)) || text.charAt(0) == ' ' || text.charAt(0) == '.', text);
    }

    @Test
    void byDocumentKeepsEachDocumentAtOneInstituteInContiguousRuns() throws Exception {
        TextSpec spec = spec(dir.resolve("doc"), List.of(corpus(30, 3).toString()), TextSpec.Scheme.DOCUMENT, 5, INSTITUTES);
        TextPrepare.Result r = TextPrepare.run(CONF, spec, null);
        Map<String, TokenSequences> shares = read(spec);
        long previousMax = -1;
        Set<Long> seen = new HashSet<>();
        for (String i : INSTITUTES) {
            TokenSequences s = shares.get(i);
            assertTrue(s.size() > 0, i);
            long lo = Arrays.stream(s.documents()).min().orElseThrow();
            long hi = Arrays.stream(s.documents()).max().orElseThrow();
            assertTrue(lo > previousMax, i + " overlaps the previous institute's documents");
            previousMax = hi;
            Arrays.stream(s.documents()).distinct().forEach(d -> assertTrue(seen.add(d), "document " + d + " twice"));
        }
        // The synthetic corpus has three kinds of text in contiguous runs: osu holds the first kind, iitb the last.
        String first = new ByteTokenizer().decode(shares.get("osu").tokens());
        String last = new ByteTokenizer().decode(shares.get("iitb").tokens());
        assertTrue(first.contains("cat") || first.contains("dog") || first.contains("fox"), first);
        assertFalse(first.contains("server") || first.contains("gradient"));
        assertTrue(last.contains("server") || last.contains("gradient") || last.contains("model"));
        assertFalse(last.contains("cat "));
        assertEquals(3, r.shares().size());
        assertTrue(r.table().contains("osu"));
    }

    @Test
    void theSameSeedGivesTheSameSharesAndAnotherSeedOthers() throws Exception {
        String src = corpus(20, 4).toString();
        TextSpec a = spec(dir.resolve("a"), List.of(src), TextSpec.Scheme.IID, 9, INSTITUTES);
        TextSpec b = spec(dir.resolve("b"), List.of(src), TextSpec.Scheme.IID, 9, INSTITUTES);
        TextSpec c = spec(dir.resolve("c"), List.of(src), TextSpec.Scheme.IID, 10, INSTITUTES);
        TextPrepare.run(CONF, a, null);
        TextPrepare.run(CONF, b, null);
        TextPrepare.run(CONF, c, null);
        Map<String, TokenSequences> ra = read(a);
        Map<String, TokenSequences> rb = read(b);
        Map<String, TokenSequences> rc = read(c);
        boolean differs = false;
        for (String i : ra.keySet()) {
            assertArrayEquals(ra.get(i).tokens(), rb.get(i).tokens(), i);
            assertArrayEquals(ra.get(i).sequenceIds(), rb.get(i).sequenceIds(), i);
            differs |= !Arrays.equals(ra.get(i).sequenceIds(), rc.get(i).sequenceIds());
        }
        assertTrue(differs, "another seed gave the same split");
    }

    @Test
    void aDelimiterLineCutsOneFileIntoDocuments() throws Exception {
        List<String> docs = SyntheticText.documents(10, 12, 2, 6);
        java.nio.file.Path file = SyntheticText.writeDelimited(dir.resolve("one/corpus.txt"), docs, "%");
        List<TextPrepare.Document> read = TextPrepare.readDocuments(CONF, List.of(file.toString()), "%", "data.train");
        assertEquals(10, read.size());
        for (int i = 0; i < 10; i++) {
            assertEquals(docs.get(i).strip(), read.get(i).text().strip());
            assertTrue(read.get(i).source().endsWith("corpus.txt#" + i), read.get(i).source());
        }
        assertEquals(1, TextPrepare.readDocuments(CONF, List.of(file.toString()), "", "data.train").size());
    }

    @Test
    void anEmptyCorpusIsRefusedNamingTheKeyAndFile() throws Exception {
        java.nio.file.Path empty = Files.writeString(Files.createDirectories(dir.resolve("empty")).resolve("a.txt"), "  \n");
        DataException e = assertThrows(DataException.class, () -> TextPrepare.run(CONF,
                spec(dir.resolve("out-empty"), List.of(empty.toString()), TextSpec.Scheme.IID, 1, INSTITUTES), null));
        assertTrue(e.getMessage().contains("data.train") && e.getMessage().contains("a.txt")
                && e.getMessage().contains("holds no text"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("out-empty")));
    }

    @Test
    void anInstituteWithoutSequencesIsRefusedNamingIt() throws Exception {
        // Five documents, one held out: four documents cannot go to five institutes by document.
        List<String> five = List.of("osu", "umich", "iitb", "utaustin", "osc");
        TextSpec spec = spec(dir.resolve("out-few"), List.of(corpus(5, 7).toString()), TextSpec.Scheme.DOCUMENT, 1, five);
        DataException e = assertThrows(DataException.class, () -> TextPrepare.run(CONF, spec, null));
        assertTrue(e.getMessage().contains("gets no sequences") && e.getMessage().contains("institutes: '"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("out-few")));
    }

    @Test
    void aSequenceLongerThanThePartitionsContextIsRefusedNamingTheFile() throws Exception {
        TokenSequences nine = new TokenSequences(8, 257, new int[18], null, null, "test");
        Map<String, String> meta = TokenStore.metadata(new TokenSequences(4, 257, new int[10], null, null, "test"),
                "synthetic", "osu", "byte");
        Path file = new Path(dir.resolve("long.parquet").toUri());
        TokenStore.writeFile(CONF, file, nine, meta);
        DataException e = assertThrows(DataException.class, () -> TokenStore.readFile(CONF, file, "osu"));
        assertTrue(e.getMessage().contains("long.parquet") && e.getMessage().contains("holds 9 tokens")
                && e.getMessage().contains("longer than the context"), e.getMessage());
    }

    @Test
    void aTokenIdOutsideTheVocabularyIsRefusedNamingTheFileAndPosition() throws Exception {
        int[] tokens = new int[10];
        tokens[7] = 280;
        TokenSequences wide = new TokenSequences(4, 300, tokens, null, null, "test");
        Map<String, String> meta = TokenStore.metadata(new TokenSequences(4, 257, new int[5], null, null, "test"),
                "synthetic", "osu", "byte");
        Path file = new Path(dir.resolve("wide.parquet").toUri());
        TokenStore.writeFile(CONF, file, wide, meta);
        DataException e = assertThrows(DataException.class, () -> TokenStore.readFile(CONF, file, "osu"));
        assertTrue(e.getMessage().contains("wide.parquet") && e.getMessage().contains("token id 280")
                && e.getMessage().contains("position 2") && e.getMessage().contains("[0, 257)"), e.getMessage());
        // In memory too.
        DataException m = assertThrows(DataException.class, () -> new TokenSequences(4, 257, tokens, null, null, "corpus x"));
        assertTrue(m.getMessage().contains("corpus x") && m.getMessage().contains("280"), m.getMessage());
    }

    @Test
    void aTaskCannotReadAnotherInstitutesTokenShare() throws Exception {
        TextSpec spec = spec(dir.resolve("placement"), List.of(corpus(12, 8).toString()), TextSpec.Scheme.IID, 1, INSTITUTES);
        TextPrepare.run(CONF, spec, null);
        PlacementException e = assertThrows(PlacementException.class,
                () -> TokenStore.read(CONF, new Path(spec.institutes().get(0).location()), "umich"));
        assertTrue(e.getMessage().contains("'umich'") && e.getMessage().contains("'osu'"), e.getMessage());
        // An image reader refuses a token share with a message saying what it holds.
        DataException d = assertThrows(DataException.class,
                () -> PartitionStore.read(CONF, new Path(spec.institutes().get(0).location()), "osu"));
        assertTrue(d.getMessage().contains("token sequences"), d.getMessage());
    }
}
