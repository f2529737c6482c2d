package org.fslspark.text;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Both tokenizers: round trips on arbitrary Unicode, the vocabulary, and errors that name the problem. */
class TokenizerTest {
    @TempDir
    Path dir;

    /**
     * Random text: ASCII, Latin-1, CJK, emoji and other supplementary-plane characters, control
     * characters and whitespace runs; every code point a valid Unicode scalar value.
     */
    static List<String> randomTexts(long seed, int count) {
        Random rng = new Random(seed);
        int[][] ranges = {{0x00, 0x7F}, {0x80, 0x7FF}, {0x800, 0xD7FF}, {0xE000, 0xFFFF}, {0x1F300, 0x1FAFF}, {0x10000, 0x10FFFF}};
        List<String> texts = new ArrayList<>();
        texts.add("");
        texts.add("héllo wörld 😀 日本語 ∑ \r\n\t  end");
        for (int i = 0; i < count; i++) {
            StringBuilder s = new StringBuilder();
            int length = rng.nextInt(60);
            for (int j = 0; j < length; j++) {
                int[] r = ranges[rng.nextInt(ranges.length)];
                s.appendCodePoint(r[0] + rng.nextInt(r[1] - r[0] + 1));
            }
            texts.add(s.toString());
        }
        return texts;
    }

    @Test
    void byteTokenizerRoundTripsArbitraryUnicode() {
        ByteTokenizer t = new ByteTokenizer();
        for (String text : randomTexts(1, 300)) {
            int[] ids = t.encode(text);
            assertEquals(text.getBytes(java.nio.charset.StandardCharsets.UTF_8).length, ids.length);
            assertEquals(text, t.decode(ids), "round trip of " + text.codePoints().boxed().toList());
        }
    }

    @Test
    void byteTokenizerIdsAreUtf8BytesPlusEndOfText() {
        ByteTokenizer t = new ByteTokenizer();
        assertEquals(257, t.vocabSize());
        assertArrayEquals(new int[]{0x61, 0xC3, 0xA9, 0xF0, 0x9F, 0x98, 0x80}, t.encode("aé😀"));
        // the separator between documents decodes to nothing; half a character decodes to U+FFFD
        assertEquals("ab", t.decode(new int[]{0x61, ByteTokenizer.END_OF_TEXT, 0x62}));
        assertEquals("a\uFFFD", t.decode(new int[]{0x61, 0xF0, 0x9F}));
    }

    @Test
    void byteTokenizerRefusesBadInput() {
        ByteTokenizer t = new ByteTokenizer();
        String unknown = assertThrows(IllegalArgumentException.class, () -> t.decode(new int[]{65, 257})).getMessage();
        assertTrue(unknown.contains("unknown token id 257 at position 1"), unknown);
        String negative = assertThrows(IllegalArgumentException.class, () -> t.decode(new int[]{-3})).getMessage();
        assertTrue(negative.contains("unknown token id -3 at position 0"), negative);
        String surrogate = assertThrows(IllegalArgumentException.class, () -> t.encode("ab\uD83Dc")).getMessage();
        assertTrue(surrogate.contains("unpaired surrogate at index 2"), surrogate);
    }

    @Test
    void hfTokenizerLoadsALocalFileAndRoundTrips() throws IOException {
        try (HfTokenizer t = HfTokenizer.load(TinyTokenizerJson.write(dir.resolve("tokenizer.json")))) {
            assertEquals(TinyTokenizerJson.VOCAB_SIZE, t.vocabSize());
            assertArrayEquals(new int[]{TinyTokenizerJson.THE, ' ', TinyTokenizerJson.THE, 'm', 'e'}, t.encode("the theme"),
                    "the file's merges are applied");
            for (String text : randomTexts(2, 300)) {
                int[] ids = t.encode(text);
                for (int id : ids) {
                    assertTrue(id >= 0 && id < t.vocabSize());
                }
                assertEquals(text, t.decode(ids), "round trip of " + text.codePoints().boxed().toList());
            }
        }
    }

    /** DJL truncates to 512 tokens unless told not to; a document must come back whole. */
    @Test
    void hfTokenizerDoesNotTruncateLongText() throws IOException {
        try (HfTokenizer t = HfTokenizer.load(TinyTokenizerJson.write(dir.resolve("tokenizer.json")))) {
            String text = "the cat sat on a mat. ".repeat(300);
            int[] ids = t.encode(text);
            assertTrue(ids.length > 2000, "got " + ids.length + " ids");
            assertEquals(text, t.decode(ids));
        }
    }

    @Test
    void hfTokenizerRefusesUnknownIds() throws IOException {
        try (HfTokenizer t = HfTokenizer.load(TinyTokenizerJson.write(dir.resolve("tokenizer.json")))) {
            String beyond = assertThrows(IllegalArgumentException.class, () -> t.decode(new int[]{104, t.vocabSize()})).getMessage();
            assertTrue(beyond.contains("unknown token id " + t.vocabSize() + " at position 1"), beyond);
            String gap = assertThrows(IllegalArgumentException.class, () -> t.decode(new int[]{TinyTokenizerJson.GAP})).getMessage();
            assertTrue(gap.contains("unknown token id " + TinyTokenizerJson.GAP + " at position 0") && gap.contains("tokenizer.json"), gap);
        }
    }

    @Test
    void hfTokenizerErrorsNameTheFile() throws IOException {
        Path missing = dir.resolve("missing/tokenizer.json");
        String m = assertThrows(IllegalArgumentException.class, () -> HfTokenizer.load(missing)).getMessage();
        assertTrue(m.contains(missing.toString()) && m.contains("does not exist"), m);

        Path empty = Files.writeString(dir.resolve("empty.json"), "");
        String e = assertThrows(IllegalArgumentException.class, () -> HfTokenizer.load(empty)).getMessage();
        assertTrue(e.contains(empty.toString()) && e.contains("is empty"), e);

        Path truncated = Files.writeString(dir.resolve("truncated.json"),
                Files.readString(TinyTokenizerJson.write(dir.resolve("whole.json"))).substring(0, 500));
        String t = assertThrows(IllegalArgumentException.class, () -> HfTokenizer.load(truncated)).getMessage();
        assertTrue(t.contains(truncated.toString()) && t.contains("is not a valid tokenizer.json"), t);

        JsonObject noVocab = new JsonObject();
        noVocab.add("model", new JsonObject());
        Path vocabless = Files.writeString(dir.resolve("vocabless.json"), noVocab.toString());
        String v = assertThrows(IllegalArgumentException.class, () -> HfTokenizer.load(vocabless)).getMessage();
        assertTrue(v.contains(vocabless.toString()) && v.contains("has no model.vocab"), v);

        // valid JSON with a vocabulary, but a model the library does not know
        JsonObject root = TinyTokenizerJson.json();
        root.getAsJsonObject("model").addProperty("type", "NoSuchModel");
        root.getAsJsonObject("model").add("merges", new JsonArray());
        Path unknownModel = Files.writeString(dir.resolve("unknown-model.json"), root.toString());
        String u = assertThrows(IllegalArgumentException.class, () -> HfTokenizer.load(unknownModel)).getMessage();
        assertTrue(u.contains(unknownModel.toString()) && u.contains("is not a valid tokenizer.json"), u);
    }

    @Test
    void hfTokenizerRefusesUnpairedSurrogates() throws IOException {
        try (HfTokenizer t = HfTokenizer.load(TinyTokenizerJson.write(dir.resolve("tokenizer.json")))) {
            String s = assertThrows(IllegalArgumentException.class, () -> t.encode("x\uDC00")).getMessage();
            assertTrue(s.contains("unpaired surrogate at index 1"), s);
        }
    }
}
