"""Experience replay with a reservoir buffer (Chaudhry et al., 'On Tiny Episodic Memories in
Continual Learning', 2019; reservoir sampling: Vitter, 1985).

A memory of at most B samples (B = the task's replay budget) is filled by reservoir sampling over
the stream, so every training sample seen so far is kept with the same probability B / n. From
the second experience on, every step trains on the current minibatch joined with an equally large
minibatch drawn uniformly from the memory:
  L = mean over the 2n samples of CE(f(x), y)  =  (CE_new + CE_memory) / 2
The memory is updated at the end of each experience from that experience's training batches.
No hyperparameters of its own: the budget is the task's, the same for every memory-based method.
"""

from benchmark.memory import Memory, concat
from benchmark.method import Method
from benchmark.registry import register_method


@register_method("replay")
class Replay(Method):
    paper = "Chaudhry et al., arXiv:1902.10486, 2019"
    title = 'On Tiny Episodic Memories in Continual Learning'
    authors = ('Arslan Chaudhry, Marcus Rohrbach, Mohamed Elhoseiny, Thalaiyasingam Ajanthan, Puneet K. Dokania, '
               "Philip H. S. Torr, Marc'Aurelio Ranzato")
    venue = 'arXiv:1902.10486'
    year = 2019
    url = 'https://arxiv.org/abs/1902.10486'
    uses = ('memory',)
    families = ("continual",)
    extra_cost = "a memory of ctx.extra['replay_budget'] samples; 2x batch size per step"

    def setup(self):
        self.memory = Memory(self.ctx.extra["replay_budget"], self.generator)

    def step(self, batch):
        if len(self.memory):
            batch = concat(batch, self.memory.sample(len(batch.y)))
        return super().step(batch)

    def on_experience_end(self, experience, data):
        self.memory.reservoir(data)
