package org.fslspark.data;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.fslspark.text.Tokenizer;
import org.fslspark.text.Tokenizers;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * The {@code prepare} step for text: read UTF-8 files, cut them into documents, tokenize, cut token streams into
 * sequences of {@code context + 1} tokens, hold some documents out, split the rest among institutes and write
 * each share (and the held-out set) as a token partition ({@link TokenStore}).
 *
 * <p>A document's tokens are followed by the tokenizer's end-of-text id when it has one (the byte tokenizer's
 * 256). A stream of documents is cut into windows of {@code context + 1} tokens with stride {@code context}, so
 * every token but the stream's first is a target exactly once; a tail shorter than a window is dropped. Under
 * {@code iid} the training documents form one stream whose sequences are shuffled and dealt to institutes in
 * equal shares; under {@code document} each institute receives a contiguous run of documents (balanced by
 * tokens) and its own stream, so no document's text reaches two institutes. The held-out set is either the
 * {@code test} files or a seeded choice of {@code testFraction} of the documents, never seen in training.
 *
 * <p>As image {@link Prepare}, everything is checked before anything is written, and shares are moved into
 * place only once all were written.
 */
public final class TextPrepare {
    private TextPrepare() {
    }

    /** One source document: where it came from (file, and its index in the file when delimited) and its text. */
    public record Document(String source, String text) {
    }

    /** One written share. */
    public record Share(String institute, String location, long sequences, long documents, long tokens) {
    }

    /** What prepare wrote. */
    public record Result(String dataset, String partitioning, int vocab, int context, long droppedTokens,
                         List<Share> shares, Share test) {
        /** A table of sequences and documents per institute, as printed. */
        public String table() {
            List<Share> rows = new ArrayList<>(shares);
            rows.add(test);
            int w = Math.max("institute".length(), rows.stream().mapToInt(s -> s.institute().length()).max().orElse(0));
            StringBuilder b = new StringBuilder();
            b.append(String.format(Locale.ROOT, "prepared %s: %d training sequences of %d + 1 tokens (vocabulary %d)"
                            + " among %d institutes (%s); %d tokens in tails shorter than a sequence dropped%n",
                    dataset, shares.stream().mapToLong(Share::sequences).sum(), context, vocab, shares.size(), partitioning,
                    droppedTokens));
            b.append(String.format(Locale.ROOT, "%-" + w + "s %10s %10s %12s  location%n", "institute", "sequences",
                    "documents", "tokens"));
            for (Share s : rows) {
                b.append(String.format(Locale.ROOT, "%-" + w + "s %10d %10d %12d  %s%n", s.institute(), s.sequences(),
                        s.documents(), s.tokens(), s.location()));
            }
            return b.toString();
        }
    }

    /** Runs the job, printing the table to {@code out} (may be null). */
    public static Result run(Configuration conf, TextSpec spec, PrintStream out) {
        validate(conf, spec);
        Tokenizer tokenizer;
        try {
            tokenizer = Tokenizers.named(spec.tokenizer());
        } catch (IllegalArgumentException e) {
            throw new DataException(TextSpec.KEY_TOKENIZER + ": " + e.getMessage(), e);
        }
        List<Document> docs = readDocuments(conf, spec.train(), spec.delimiter(), PrepareSpec.KEY_TRAIN);
        List<int[]> encoded = encode(tokenizer, docs);
        int vocab = tokenizer.vocabSize();
        int context = spec.context();

        // Held-out documents: the test files, or a seeded choice of the training documents.
        List<int[]> testDocs;
        long[] testIndex;
        boolean[] heldOut = new boolean[docs.size()];
        if (!spec.test().isEmpty()) {
            testDocs = encode(tokenizer, readDocuments(conf, spec.test(), spec.delimiter(), PrepareSpec.KEY_TEST));
            testIndex = new long[testDocs.size()];
            Arrays.setAll(testIndex, i -> docs.size() + i);
        } else {
            int k = (int) Math.max(1, Math.round(spec.testFraction() * docs.size()));
            if (docs.size() < 2 || k >= docs.size()) {
                throw new DataException(PrepareSpec.KEY_TRAIN + ": " + docs.size() + " document(s) cannot be split into"
                        + " training and held-out documents with " + TextSpec.KEY_TEST_FRACTION + " = "
                        + spec.testFraction() + "; give held-out files in " + PrepareSpec.KEY_TEST + " or more documents"
                        + " (" + TextSpec.KEY_DELIMITER + " cuts a file into documents)");
            }
            int[] order = shuffled(docs.size(), new Random(spec.seed() * 31 + 7));
            for (int i = 0; i < k; i++) {
                heldOut[order[i]] = true;
            }
            testDocs = new ArrayList<>();
            List<Long> ti = new ArrayList<>();
            for (int i = 0; i < docs.size(); i++) {
                if (heldOut[i]) {
                    testDocs.add(encoded.get(i));
                    ti.add((long) i);
                }
            }
            testIndex = ti.stream().mapToLong(Long::longValue).toArray();
        }
        List<int[]> trainDocs = new ArrayList<>();
        List<Long> trainIndexList = new ArrayList<>();
        for (int i = 0; i < docs.size(); i++) {
            if (!heldOut[i]) {
                trainDocs.add(encoded.get(i));
                trainIndexList.add((long) i);
            }
        }
        long[] trainIndex = trainIndexList.stream().mapToLong(Long::longValue).toArray();

        List<String> names = spec.institutes().stream().map(PrepareSpec.Target::institute).toList();
        int m = names.size();
        List<TokenSequences> shares = new ArrayList<>();
        long[] dropped = new long[1];
        switch (spec.scheme()) {
            case IID -> {
                TokenSequences all = cut(trainDocs, trainIndex, 0, vocab, context, dropped, "the training documents");
                int[] order = shuffled(all.size(), new Random(spec.seed()));
                for (int i = 0; i < m; i++) {
                    int[] pick = Arrays.copyOfRange(order, (int) ((long) all.size() * i / m), (int) ((long) all.size() * (i + 1) / m));
                    Arrays.sort(pick);
                    shares.add(all.subset(pick));
                }
            }
            case DOCUMENT -> {
                long total = trainDocs.stream().mapToLong(d -> d.length).sum();
                long seen = 0;
                int from = 0;
                long nextId = 0;
                for (int i = 0; i < m; i++) {
                    int to = from;
                    long target = total * (i + 1) / m;
                    while (to < trainDocs.size() && (i == m - 1 || seen + trainDocs.get(to).length / 2 <= target)) {
                        seen += trainDocs.get(to).length;
                        to++;
                    }
                    TokenSequences s = cut(trainDocs.subList(from, to), Arrays.copyOfRange(trainIndex, from, to), nextId,
                            vocab, context, dropped, "the documents of '" + names.get(i) + "'");
                    nextId += s.size();
                    shares.add(s);
                    from = to;
                }
            }
        }
        long trainSequences = shares.stream().mapToLong(TokenSequences::size).sum();
        if (trainSequences == 0) {
            throw new DataException(PrepareSpec.KEY_TRAIN + ": no training document yields a sequence of "
                    + TextSpec.KEY_CONTEXT + " + 1 = " + (context + 1) + " tokens (" + trainDocs.size() + " documents, "
                    + trainDocs.stream().mapToLong(d -> d.length).sum() + " tokens)");
        }
        if (spec.trainSubset() > 0) {
            if (spec.trainSubset() > trainSequences) {
                throw new DataException(PrepareSpec.KEY_SUBSET + " = " + spec.trainSubset() + " exceeds the "
                        + trainSequences + " training sequences of " + (context + 1) + " tokens");
            }
            // Each institute keeps its proportion, so a subset keeps the partition's shape.
            for (int i = 0; i < m; i++) {
                TokenSequences s = shares.get(i);
                int k = (int) Math.round((double) s.size() * spec.trainSubset() / trainSequences);
                shares.set(i, s.subset(Prepare.subset(s.size(), k, spec.seed() + i)));
            }
            trainSequences = shares.stream().mapToLong(TokenSequences::size).sum();
        }
        for (int i = 0; i < m; i++) {
            if (shares.get(i).size() == 0) {
                throw new DataException(PrepareSpec.KEY_INSTITUTES + ": '" + names.get(i) + "' gets no sequences under "
                        + PrepareSpec.KEY_SCHEME + " = " + spec.scheme() + " (" + trainDocs.size() + " training documents, "
                        + trainSequences + " sequences of " + (context + 1) + " tokens for " + m + " institutes);"
                        + " give more text, fewer institutes or a smaller " + TextSpec.KEY_CONTEXT);
            }
        }
        TokenSequences test = cut(testDocs, testIndex, trainSequences, vocab, context, new long[1], "the held-out documents");
        if (test.size() == 0) {
            throw new DataException((spec.test().isEmpty() ? PrepareSpec.KEY_TRAIN + " (held-out documents)"
                    : PrepareSpec.KEY_TEST) + ": the held-out text yields no sequence of " + (context + 1) + " tokens;"
                    + " hold out more text (" + TextSpec.KEY_TEST_FRACTION + ") or use a smaller " + TextSpec.KEY_CONTEXT);
        }

        String tokenizerName = spec.tokenizer() == null || spec.tokenizer().isBlank() ? Tokenizers.BYTE : spec.tokenizer().trim();
        Map<String, String> prepared = PreparedKeys.of(spec);
        List<PartitionStore.Staged> staged = new ArrayList<>();
        List<Share> written = new ArrayList<>();
        try {
            for (int i = 0; i < m; i++) {
                PrepareSpec.Target t = spec.institutes().get(i);
                TokenSequences s = shares.get(i);
                staged.add(TokenStore.stage(conf, new Path(t.location()), t.institute(), spec.dataset(), tokenizerName, s,
                        prepared));
                written.add(new Share(t.institute(), DataFiles.qualified(conf, new Path(t.location())), s.size(),
                        s.documentCount(), (long) s.size() * context));
            }
            staged.add(TokenStore.stage(conf, new Path(spec.testLocation()), PartitionStore.TEST, spec.dataset(),
                    tokenizerName, test, prepared));
            List<PartitionStore.Staged> done = new ArrayList<>();
            try {
                for (PartitionStore.Staged s : staged) {
                    s.commit(spec.overwrite());
                    done.add(s);
                }
            } catch (RuntimeException e) {
                done.forEach(PartitionStore.Staged::rollback);
                throw e;
            }
        } finally {
            staged.forEach(PartitionStore.Staged::abort);
        }
        Share testShare = new Share(PartitionStore.TEST, DataFiles.qualified(conf, new Path(spec.testLocation())),
                test.size(), test.documentCount(), (long) test.size() * context);
        String how = spec.scheme() + ", seed " + spec.seed() + ", held out: "
                + (spec.test().isEmpty() ? testDocs.size() + " of " + docs.size() + " documents" : spec.test());
        Result result = new Result(spec.dataset(), how, vocab, context, dropped[0], List.copyOf(written), testShare);
        if (out != null) {
            out.print(result.table());
            out.flush();
        }
        return result;
    }

    /**
     * Cuts the concatenation of {@code docs} into sequences of {@code context + 1} tokens with stride
     * {@code context}; each sequence records the document of its first token. Ids start at {@code firstId}.
     */
    static TokenSequences cut(List<int[]> docs, long[] docIndex, long firstId, int vocab, int context, long[] dropped,
                              String what) {
        int total = 0;
        for (int[] d : docs) {
            total = Math.addExact(total, d.length);
        }
        int[] stream = new int[total];
        long[] owner = new long[total];
        int at = 0;
        for (int i = 0; i < docs.size(); i++) {
            System.arraycopy(docs.get(i), 0, stream, at, docs.get(i).length);
            Arrays.fill(owner, at, at + docs.get(i).length, docIndex[i]);
            at += docs.get(i).length;
        }
        int len = context + 1;
        int n = total < len ? 0 : (total - len) / context + 1;
        dropped[0] += total - (n == 0 ? 0 : (long) (n - 1) * context + len);
        int[] tokens = new int[n * len];
        long[] ids = new long[n];
        long[] documents = new long[n];
        for (int s = 0; s < n; s++) {
            System.arraycopy(stream, s * context, tokens, s * len, len);
            ids[s] = firstId + s;
            documents[s] = owner[s * context];
        }
        return new TokenSequences(context, vocab, tokens, ids, documents, what);
    }

    private static List<int[]> encode(Tokenizer tokenizer, List<Document> docs) {
        int end = Tokenizers.endOfText(tokenizer);
        List<int[]> out = new ArrayList<>();
        for (Document d : docs) {
            int[] ids;
            try {
                ids = tokenizer.encode(d.text());
            } catch (IllegalArgumentException e) {
                throw new DataException(d.source() + ": cannot tokenize: " + e.getMessage(), e);
            }
            if (end >= 0) {
                ids = Arrays.copyOf(ids, ids.length + 1);
                ids[ids.length - 1] = end;
            }
            out.add(ids);
        }
        return out;
    }

    private static int[] shuffled(int n, Random rng) {
        int[] a = new int[n];
        Arrays.setAll(a, i -> i);
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        return a;
    }

    /**
     * The documents of {@code paths}: each file (directories: their files by name) is one document, or several
     * when {@code delimiter} is not empty (a line holding only the delimiter separates them). Documents that are
     * empty or blank are skipped; a corpus with none is refused.
     */
    public static List<Document> readDocuments(Configuration conf, List<String> paths, String delimiter, String key) {
        List<Document> docs = new ArrayList<>();
        List<String> files = new ArrayList<>();
        for (String s : paths) {
            Path p = new Path(s);
            String name = DataFiles.qualified(conf, p);
            try {
                FileSystem fs = p.getFileSystem(conf);
                if (!fs.exists(p)) {
                    throw new DataException(key + ": " + name + ": file not found");
                }
                List<Path> inDir = new ArrayList<>();
                if (fs.getFileStatus(p).isDirectory()) {
                    for (FileStatus st : fs.listStatus(p)) {
                        String n = st.getPath().getName();
                        if (st.isFile() && !n.startsWith("_") && !n.startsWith(".")) {
                            inDir.add(st.getPath());
                        }
                    }
                    inDir.sort(null);
                } else {
                    inDir.add(p);
                }
                for (Path f : inDir) {
                    String fname = DataFiles.qualified(conf, f);
                    files.add(fname);
                    String text;
                    try (InputStream in = fs.open(f)) {
                        text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                                .onUnmappableCharacter(CodingErrorAction.REPORT)
                                .decode(ByteBuffer.wrap(in.readAllBytes())).toString();
                    } catch (CharacterCodingException e) {
                        throw new DataException(key + ": " + fname + " is not UTF-8 text (" + e + ")", e);
                    }
                    if (text.startsWith("\uFEFF")) {
                        text = text.substring(1);
                    }
                    split(text, delimiter, fname, docs);
                }
            } catch (IOException e) {
                throw new DataException(key + ": " + name + ": cannot read: " + e, e);
            }
        }
        if (docs.isEmpty()) {
            throw new DataException(key + ": the corpus " + (files.isEmpty() ? paths : files) + " holds no text"
                    + (files.isEmpty() ? " (no files)" : " (every file is empty or blank)"));
        }
        return docs;
    }

    private static void split(String text, String delimiter, String file, List<Document> into) {
        text = text.replace("\r\n", "\n");
        if (delimiter.isEmpty()) {
            if (!text.isBlank()) {
                into.add(new Document(file, text));
            }
            return;
        }
        StringBuilder cur = new StringBuilder();
        int index = 0;
        for (String line : text.split("\n", -1)) {
            if (line.equals(delimiter)) {
                if (!cur.toString().isBlank()) {
                    into.add(new Document(file + "#" + index, cur.toString()));
                }
                index++;
                cur.setLength(0);
            } else {
                cur.append(line).append('\n');
            }
        }
        if (!cur.toString().isBlank()) {
            into.add(new Document(file + "#" + index, cur.toString()));
        }
    }

    /** Checks the spec, sources and outputs, collecting every problem into one message. Writes nothing. */
    public static void validate(Configuration conf, TextSpec spec) {
        List<String> problems = new ArrayList<>();
        if (spec.dataset() == null || spec.dataset().isBlank() || spec.dataset().contains("\n")) {
            problems.add(PrepareSpec.KEY_DATASET + " must name the dataset, got '" + spec.dataset() + "'");
        }
        if (spec.train().isEmpty() || spec.train().stream().anyMatch(p -> p == null || p.isBlank())) {
            problems.add(PrepareSpec.KEY_TRAIN + " must list text files or directories, got " + spec.train());
        }
        if (spec.test().stream().anyMatch(p -> p == null || p.isBlank())) {
            problems.add(PrepareSpec.KEY_TEST + " holds an empty path: " + spec.test());
        }
        if (spec.context() < 1) {
            problems.add(TextSpec.KEY_CONTEXT + " must be >= 1, got " + spec.context());
        }
        if (spec.test().isEmpty() && !(spec.testFraction() > 0 && spec.testFraction() < 1)) {
            problems.add(TextSpec.KEY_TEST_FRACTION + " must be in (0, 1) when " + PrepareSpec.KEY_TEST
                    + " is empty, got " + spec.testFraction());
        }
        if (spec.delimiter().contains("\n")) {
            problems.add(TextSpec.KEY_DELIMITER + " must be one line, got '" + spec.delimiter() + "'");
        }
        if (spec.scheme() == null) {
            problems.add(PrepareSpec.KEY_SCHEME + " must be one of " + Arrays.toString(TextSpec.Scheme.values()) + " for text");
        }
        if (spec.institutes().isEmpty()) {
            problems.add(PrepareSpec.KEY_INSTITUTES + " must list at least one institute");
        }
        List<String[]> outputs = Prepare.checkInstitutes(spec.institutes(), problems);
        outputs.add(new String[]{"the test set location", spec.testLocation()});
        Prepare.checkOutputs(conf, outputs, spec.overwrite(), problems);
        if (!problems.isEmpty()) {
            throw new DataException("prepare: nothing written, " + (problems.size() == 1 ? "" : problems.size() + " problems: ")
                    + String.join("; ", problems));
        }
    }
}
