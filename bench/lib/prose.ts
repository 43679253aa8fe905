// Deterministic English-like prose for the pipeline and query benchmarks: topical documents of a chosen size and matching queries.
import { prng } from '../../lib/prng.ts';

// Each topic has its own nouns, so documents of a topic share vocabulary and a query about it matches some documents
// strongly and most weakly, as in a real corpus; the shared words make every document look like ordinary prose.
const TOPICS: Record<string, string> = {
  volcanoes: 'magma lava eruption crater caldera basalt ash plume vent stratovolcano tephra pumice fissure summit lahar',
  oceans: 'current tide reef plankton salinity trench upwelling kelp coral estuary gyre seabed whale lagoon monsoon',
  databases: 'index transaction query table replica schema cursor lock journal shard partition snapshot checkpoint tuple join',
  streaming: 'stream consumer subject sequence offset backlog producer partition acknowledgement replay broker topic lag window event',
  astronomy: 'galaxy nebula quasar telescope orbit comet asteroid pulsar redshift supernova exoplanet spectrum eclipse meteor star',
  medicine: 'vaccine antibody trial dose symptom pathogen therapy diagnosis enzyme receptor tumour clinic insulin immunity protein',
  farming: 'harvest soil irrigation seed tractor orchard livestock fertiliser drought yield pasture barley vineyard compost greenhouse',
  music: 'melody rhythm chord harmony tempo orchestra violin sonata rehearsal conductor lyric choir piano cadence symphony',
  cooking: 'recipe sauce oven dough spice broth ferment knife pastry braise simmer garlic saffron marinade skillet',
  aviation: 'runway cockpit turbine altitude glider hangar propeller autopilot fuselage landing pilot airspace radar wing thrust',
  climate: 'emission carbon glacier warming rainfall aerosol permafrost drought heatwave forecast methane ozone albedo flood storm',
  finance: 'ledger dividend bond equity inflation mortgage auditor portfolio liquidity interest currency budget invoice deficit loan',
  law: 'contract statute verdict appeal tribunal clause plaintiff evidence testimony judge liability patent lawsuit precedent jury',
  robotics: 'actuator sensor gripper servo controller trajectory lidar odometry torque manipulator encoder drone firmware gait joint',
  linguistics: 'syntax phoneme morphology dialect grammar vowel lexicon semantics idiom accent translation etymology verb noun prefix',
  architecture: 'facade column vault arch beam cantilever atrium timber concrete staircase courtyard blueprint balcony dome truss',
  genetics: 'genome allele mutation chromosome sequencing promoter plasmid transcription phenotype crispr heredity variant codon gene trait',
  energy: 'turbine battery solar grid inverter reactor hydrogen pipeline substation voltage wind geothermal storage fuel kilowatt',
  security: 'password certificate firewall exploit patch token encryption phishing audit vulnerability malware credential breach key sandbox',
  education: 'curriculum lecture classroom exam tutor syllabus literacy semester scholarship homework pupil campus diploma lesson teacher',
};

// General vocabulary, picked with Zipf frequencies (a few words in many documents, most in few), as in real text.
const ADJECTIVES = (
  'large small rapid slow careful uneven stable fragile modern ancient local global early late dense sparse bright quiet ' +
  'complex simple heavy precise reliable costly efficient noisy narrow broad shallow deep warm cold dry humid rough smooth ' +
  'sharp dull thick thin rare common strong weak young mature direct indirect formal informal public private rural urban ' +
  'coastal remote central northern southern eastern western annual seasonal daily weekly gradual sudden partial complete ' +
  'primary secondary minor major brief lengthy linear circular hidden visible manual automatic static dynamic elastic rigid ' +
  'fertile barren hostile friendly cautious bold crude refined obscure famous hollow solid vivid faint steady erratic'
).split(' ');
const VERBS = (
  'changes reduces increases measures supports limits shapes follows predicts affects controls records explains reveals ' +
  'improves delays protects requires drives replaces absorbs accelerates adjusts alters amplifies anticipates balances ' +
  'blocks boosts captures clarifies combines compresses confirms connects constrains contains converts damages defines ' +
  'degrades detects dilutes disrupts distorts divides doubles enables encodes enhances erodes estimates exposes extends ' +
  'filters generates guides halves hinders identifies ignores imitates inhibits isolates links lowers maintains masks ' +
  'mirrors moderates monitors narrows offsets outlines preserves prevents produces raises regulates reinforces releases ' +
  'removes reshapes restores reverses samples scatters shields signals simplifies slows stabilises stores strains tracks'
).split(' ');
const COMMON = (
  'system process result method study model data effect level rate change part group case problem point area way example ' +
  'question range pattern factor period stage source sample value trend region network structure function element feature ' +
  'surface layer boundary signal response pressure balance capacity cycle density distance duration edge flow frame growth ' +
  'impact interval limit load margin measure mechanism mixture motion output phase position quality ratio record resource ' +
  'risk scale sequence shift share speed supply target test threshold volume weight zone account agreement approach ' +
  'assessment baseline benchmark budget category choice condition context cost criterion decision demand design detail ' +
  'difference estimate evidence failure framework goal history hypothesis index input interaction issue objective outcome'
).split(' ');
const CONNECTORS = 'however|moreover|in practice|as a result|for example|in most cases|over time|by contrast|at first|in short'.split('|');

function zipfPicker(items: readonly string[], exponent = 1): (u: number) => string {
  const cdf = new Float64Array(items.length);
  let sum = 0;
  items.forEach((_, r) => (cdf[r] = sum += 1 / (r + 1) ** exponent));
  return (u) => {
    const target = u * sum;
    let lo = 0;
    let hi = items.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cdf[mid] as number) < target) lo = mid + 1;
      else hi = mid;
    }
    return items[lo] as string;
  };
}
const adjective = zipfPicker(ADJECTIVES);
const verb = zipfPicker(VERBS);
const common = zipfPicker(COMMON);
const TEMPLATES = [
  (w: Words) => `The ${w.adj()} ${w.noun()} ${w.verb()} the ${w.noun()} of the ${w.common()}.`,
  (w: Words) => `${w.connector()}, a ${w.adj()} ${w.noun()} ${w.verb()} how the ${w.noun()} ${w.verb()} the ${w.common()}.`,
  (w: Words) => `Each ${w.noun()} in the ${w.common()} ${w.verb()} a ${w.adj()} ${w.noun()} and its ${w.noun()}.`,
  (w: Words) => `When the ${w.noun()} is ${w.adj()}, the ${w.noun()} ${w.verb()} the ${w.adj()} ${w.common()} within weeks.`,
  (w: Words) => `Researchers found that ${w.noun()} ${w.verb()} ${w.noun()} more than the ${w.adj()} ${w.common()} suggests.`,
  (w: Words) => `A ${w.common()} of ${w.noun()} and ${w.noun()} ${w.verb()} the ${w.adj()} ${w.noun()}, which ${w.verb()} the ${w.common()}.`,
  (w: Words) => `At ${w.name()}, the ${w.noun()} ${w.verb()} the ${w.adj()} ${w.noun()} reported by ${w.name()}.`,
  (w: Words) => `The ${w.name()} ${w.noun()} ${w.verb()} the ${w.noun()} near ${w.name()} and ${w.name()}.`,
];

// A long tail of proper names (places, people, products) with Zipf frequencies: real text has a few words in every
// document and many in a handful, and a query naming one is selective, which BM25 cost and ranking depend on.
const SYLLABLES = 'ka lo mi ne su ta ri po de la vu ben tor sil mar gen pol cas ter ven dor lum fra qui zen ost bar wick hal'.split(' ');
const NAME_COUNT = 20_000;
const NAMES: string[] = [];
{
  const random = prng(4242);
  const seen = new Set<string>();
  while (NAMES.length < NAME_COUNT) {
    let name = '';
    for (let i = 0, n = 2 + Math.floor(random() * 2); i < n; i++) name += SYLLABLES[Math.floor(random() * SYLLABLES.length)];
    if (!seen.has(name)) {
      seen.add(name);
      NAMES.push(name.charAt(0).toUpperCase() + name.slice(1));
    }
  }
}
const NAME_CDF = new Float64Array(NAME_COUNT);
{
  let sum = 0;
  for (let r = 0; r < NAME_COUNT; r++) NAME_CDF[r] = sum += 1 / (r + 1) ** 1.05;
  for (let r = 0; r < NAME_COUNT; r++) NAME_CDF[r] = (NAME_CDF[r] as number) / sum;
}
function zipfName(u: number): string {
  let lo = 0;
  let hi = NAME_COUNT - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((NAME_CDF[mid] as number) < u) lo = mid + 1;
    else hi = mid;
  }
  return NAMES[lo] as string;
}

interface Words {
  adj(): string;
  noun(): string;
  verb(): string;
  common(): string;
  connector(): string;
  name(): string;
}

export interface ProseDocument {
  readonly id: string;
  readonly title: string;
  readonly text: string;
  readonly topic: string;
  readonly year: number;
}

export const TOPIC_NAMES = Object.keys(TOPICS);

function words(random: () => number, topic: string): Words {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const own = (TOPICS[topic] as string).split(' ');
  const other = (TOPICS[pick(TOPIC_NAMES)] as string).split(' ');
  return {
    adj: () => adjective(random()),
    // Mostly the document's topic, sometimes a neighbouring one: topics overlap a little, as real ones do.
    noun: () => (random() < 0.85 ? pick(own) : pick(other)),
    verb: () => verb(random()),
    common: () => common(random()),
    connector: () => pick(CONNECTORS),
    name: () => zipfName(random()),
  };
}

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** One document of about `bytes` UTF-8 bytes (ASCII prose), in paragraphs of 3–7 sentences; the same seed, the same text. */
export function proseDocument(seed: number, bytes: number, id = `doc-${seed}`): ProseDocument {
  const random = prng(seed * 7919 + 17);
  const topic = TOPIC_NAMES[Math.floor(random() * TOPIC_NAMES.length)] as string;
  const w = words(random, topic);
  const paragraphs: string[] = [];
  let length = 0;
  while (length < bytes) {
    const sentences: string[] = [];
    const n = 3 + Math.floor(random() * 5);
    for (let i = 0; i < n && length < bytes; i++) {
      const s = capitalise((TEMPLATES[Math.floor(random() * TEMPLATES.length)] as (w: Words) => string)(w));
      sentences.push(s);
      length += s.length + 1;
    }
    paragraphs.push(sentences.join(' '));
    length += 1;
  }
  return { id, title: capitalise(`${w.adj()} ${w.noun()} and the ${w.noun()}`), text: paragraphs.join('\n\n'), topic, year: 2000 + Math.floor(random() * 26) };
}

/** `count` documents whose sizes are spread uniformly over [minBytes, maxBytes]. */
export function proseCorpus(count: number, minBytes: number, maxBytes: number, seed = 1, prefix = 'doc'): ProseDocument[] {
  const random = prng(seed);
  return Array.from({ length: count }, (_, i) => proseDocument(seed * 1_000_003 + i, Math.round(minBytes + random() * (maxBytes - minBytes)), `${prefix}-${i}`));
}

/** Query texts a user might type about these topics: short keyword strings and questions, some naming a place or person. */
export function proseQueries(count: number, seed = 99): string[] {
  const random = prng(seed);
  const forms = [
    (w: Words) => `how does ${w.noun()} affect ${w.noun()}`,
    (w: Words) => `${w.adj()} ${w.noun()} ${w.noun()}`,
    (w: Words) => `why is the ${w.noun()} ${w.adj()} in ${w.common()}`,
    (w: Words) => `${w.noun()} ${w.noun()}`,
    (w: Words) => `what ${w.verb()} the ${w.adj()} ${w.noun()} of a ${w.noun()}`,
    (w: Words) => `${w.noun()} ${w.verb()} ${w.noun()} ${w.common()}`,
    (w: Words) => `${w.name()} ${w.noun()}`,
    (w: Words) => `what did ${w.name()} find about the ${w.noun()}`,
  ];
  return Array.from({ length: count }, () => {
    const topic = TOPIC_NAMES[Math.floor(random() * TOPIC_NAMES.length)] as string;
    return (forms[Math.floor(random() * forms.length)] as (w: Words) => string)(words(random, topic));
  });
}
